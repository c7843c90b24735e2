using System.Globalization;

namespace Wave.AppHost.Kubernetes;

/// <summary>
/// Turns the values Aspire's model gives a resource (its environment and arguments before Aspire renders them for its
/// own manifest) into what they are inside the cluster: an endpoint is the resource's Service (<c>http://api:8080</c>),
/// a secret parameter is <c>$(NAME)</c>, an environment variable the container defines from the <c>wave-passwords</c>
/// Secret, a connection string is its expression with those two filled in.
/// </summary>
internal sealed class KubernetesValues
{
    /// <summary>The port every project listens on in its pod (HTTP_PORTS), and its Service's port.</summary>
    public const int ProjectHttpPort = 8080;

    /// <summary>
    /// The text of <paramref name="value"/> in the cluster, or null when it has none there (an https endpoint of a
    /// project: inside the cluster projects speak plain HTTP). Secret parameters it uses are added to
    /// <paramref name="secrets"/>.
    /// </summary>
    public static string? Render(object? value, ISet<ParameterResource> secrets, string? format = null) => value switch
    {
        null => "",
        string text => text,
        ParameterResource { Secret: true } parameter => Secret(parameter, secrets, format),
        ParameterResource parameter => throw new NotSupportedException(
            $"parameter '{parameter.Name}' is not a secret: give it a value in the model (Kubernetes output knows only secrets, from {KubernetesNames.PasswordsFile})"),
        ReferenceExpression expression => RenderExpression(expression, secrets),
        ConnectionStringReference reference => RenderExpression(reference.Resource.ConnectionStringExpression, secrets),
        IResourceWithConnectionString resource => RenderExpression(resource.ConnectionStringExpression, secrets),
        EndpointReference endpoint => Property(endpoint, EndpointProperty.Url),
        EndpointReferenceExpression property => Property(property.Endpoint, property.Property),
        _ => throw new NotSupportedException($"{value.GetType().Name} values have no Kubernetes form here"),
    };

    /// <summary>The environment variable that carries <paramref name="parameter"/> in a pod: <c>postgres-password</c> → <c>POSTGRES_PASSWORD</c>.</summary>
    public static string SecretVariable(ParameterResource parameter) => parameter.Name.ToUpperInvariant().Replace('-', '_');

    private static string Secret(ParameterResource parameter, ISet<ParameterResource> secrets, string? format)
    {
        // Kubernetes expands $(NAME) as it is: a "uri" format is left to the passwords themselves, which the
        // publisher generates alphanumeric (passwords.env written by hand must stay URI-safe for the *_URI variables).
        _ = format;
        secrets.Add(parameter);
        return $"$({SecretVariable(parameter)})";
    }

    private static string? RenderExpression(ReferenceExpression expression, ISet<ParameterResource> secrets)
    {
        if (expression.IsConditional)
        {
            // The only conditions in the model are endpoint properties (TLS on Redis): known statically here.
            var condition = Render(expression.Condition, secrets);
            return RenderExpression(string.Equals(condition, expression.MatchValue, StringComparison.OrdinalIgnoreCase)
                ? expression.WhenTrue!
                : expression.WhenFalse!, secrets);
        }
        var arguments = new object?[expression.ValueProviders.Count];
        for (var i = 0; i < arguments.Length; i++)
        {
            var rendered = Render(expression.ValueProviders[i], secrets, expression.StringFormats[i]);
            if (rendered is null)
            {
                return null;
            }
            arguments[i] = rendered;
        }
        return string.Format(CultureInfo.InvariantCulture, expression.Format, arguments);
    }

    private static string? Property(EndpointReference endpoint, EndpointProperty property)
    {
        var annotation = endpoint.Resource.Annotations.OfType<EndpointAnnotation>().Single(e => e.Name == endpoint.EndpointName);
        var isProject = endpoint.Resource is ProjectResource;
        if (isProject && annotation.UriScheme == "https")
        {
            return null;
        }
        var host = endpoint.Resource.Name;
        var port = (annotation.TargetPort ?? (isProject ? ProjectHttpPort : throw new InvalidOperationException(
            $"endpoint {host}/{annotation.Name} has no target port"))).ToString(CultureInfo.InvariantCulture);
        return property switch
        {
            EndpointProperty.Url => $"{annotation.UriScheme}://{host}:{port}",
            EndpointProperty.Host or EndpointProperty.IPV4Host => host,
            EndpointProperty.Port or EndpointProperty.TargetPort => port,
            EndpointProperty.HostAndPort => $"{host}:{port}",
            EndpointProperty.Scheme => annotation.UriScheme,
            EndpointProperty.TlsEnabled => bool.FalseString,
            _ => throw new NotSupportedException($"endpoint property {property} has no Kubernetes form here"),
        };
    }
}
