using System.Security.Cryptography.X509Certificates;
using System.Text;

using YamlDotNet.RepresentationModel;

namespace Wave.Builder.Kubernetes;

/// <summary>
/// Reads a kubeconfig file (the format of <c>kubectl config view</c>): picks the current or a named context, and turns
/// its cluster and user into a <see cref="KubernetesConnection"/>. Relative file paths are relative to the kubeconfig's
/// folder, as kubectl resolves them. Exec and auth-provider plugins are not supported (they need external binaries).
/// </summary>
public static class KubeConfig
{
    /// <summary>The file kubectl would read: the first entry of <c>KUBECONFIG</c>, else <c>~/.kube/config</c>.</summary>
    public static string DefaultPath(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var fromEnvironment = environment("KUBECONFIG")?.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        return fromEnvironment ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config");
    }

    public static KubernetesConnection Load(string path, string? context = null)
    {
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"The kubeconfig file {path} does not exist.");
        }
        return Parse(File.ReadAllText(path), context, Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".");
    }

    /// <param name="baseDirectory">Where relative certificate and token paths are resolved from.</param>
    public static KubernetesConnection Parse(string yaml, string? context, string baseDirectory)
    {
        var stream = new YamlStream();
        using (var reader = new StringReader(yaml))
        {
            stream.Load(reader);
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new InvalidOperationException("The kubeconfig is not a YAML mapping.");
        }

        var contextName = context ?? Scalar(root, "current-context")
            ?? throw new InvalidOperationException("The kubeconfig has no current-context and no context was configured.");
        var contextNode = Named(root, "contexts", "context", contextName);
        var clusterName = Scalar(contextNode, "cluster") ?? throw new InvalidOperationException($"The kubeconfig context '{contextName}' names no cluster.");
        var cluster = Named(root, "clusters", "cluster", clusterName);
        var userName = Scalar(contextNode, "user");
        var user = userName is null ? null : Named(root, "users", "user", userName);

        var server = Scalar(cluster, "server") ?? throw new InvalidOperationException($"The kubeconfig cluster '{clusterName}' has no server.");
        return new KubernetesConnection
        {
            Server = new Uri(server),
            Namespace = Scalar(contextNode, "namespace") ?? "default",
            TrustedRoots = TrustedRoots(cluster, baseDirectory),
            InsecureSkipTlsVerify = string.Equals(Scalar(cluster, "insecure-skip-tls-verify"), "true", StringComparison.OrdinalIgnoreCase),
            TlsServerName = Scalar(cluster, "tls-server-name"),
            Auth = user is null ? KubernetesAuth.None : Auth(user, userName!, baseDirectory),
        };
    }

    private static IReadOnlyList<X509Certificate2> TrustedRoots(YamlMappingNode cluster, string baseDirectory)
    {
        if (Scalar(cluster, "certificate-authority-data") is { } data)
        {
            return Pem.Certificates(Base64Text(data, "certificate-authority-data"));
        }
        if (Scalar(cluster, "certificate-authority") is { } file)
        {
            return Pem.Certificates(File.ReadAllText(Resolve(file, baseDirectory)));
        }
        return [];
    }

    private static KubernetesAuth Auth(YamlMappingNode user, string userName, string baseDirectory)
    {
        if (user.Children.ContainsKey("exec") || user.Children.ContainsKey("auth-provider"))
        {
            throw new InvalidOperationException($"The kubeconfig user '{userName}' uses an exec or auth-provider plugin, which Wave does not run; use a token or a client certificate.");
        }

        KubernetesAuth? header = null;
        if (Scalar(user, "token") is { } token)
        {
            header = new BearerTokenAuth(token);
        }
        else if (Scalar(user, "tokenFile") is { } tokenFile)
        {
            header = new TokenFileAuth(Resolve(tokenFile, baseDirectory));
        }
        else if (Scalar(user, "username") is { } username)
        {
            header = new BasicAuth(username, Scalar(user, "password") ?? "");
        }

        var certificatePem = Scalar(user, "client-certificate-data") is { } certData
            ? Base64Text(certData, "client-certificate-data")
            : Scalar(user, "client-certificate") is { } certFile ? File.ReadAllText(Resolve(certFile, baseDirectory)) : null;
        var keyPem = Scalar(user, "client-key-data") is { } keyData
            ? Base64Text(keyData, "client-key-data")
            : Scalar(user, "client-key") is { } keyFile ? File.ReadAllText(Resolve(keyFile, baseDirectory)) : null;
        if (certificatePem is null != keyPem is null)
        {
            throw new InvalidOperationException($"The kubeconfig user '{userName}' needs both a client certificate and its key.");
        }
        if (certificatePem is not null)
        {
            return new ClientCertificateAuth(ClientCertificate(certificatePem, keyPem!), header);
        }
        return header ?? KubernetesAuth.None;
    }

    private static X509Certificate2 ClientCertificate(string certificatePem, string keyPem)
    {
        using var ephemeral = X509Certificate2.CreateFromPem(certificatePem, keyPem);
        // SslStream wants a certificate whose key is not ephemeral on some platforms; a PKCS#12 round trip makes it so.
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), null);
    }

    private static YamlMappingNode Named(YamlMappingNode root, string listKey, string itemKey, string name)
    {
        if (root.Children.TryGetValue(new YamlScalarNode(listKey), out var list) && list is YamlSequenceNode sequence)
        {
            foreach (var entry in sequence.Children.OfType<YamlMappingNode>())
            {
                if (Scalar(entry, "name") == name)
                {
                    return entry.Children.TryGetValue(new YamlScalarNode(itemKey), out var item) && item is YamlMappingNode mapping
                        ? mapping
                        : new YamlMappingNode();
                }
            }
        }
        throw new InvalidOperationException($"The kubeconfig has no {itemKey} named '{name}'.");
    }

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) && value is YamlScalarNode { Value: { Length: > 0 } text } ? text : null;

    private static string Base64Text(string value, string field)
    {
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(value.Trim()));
        }
        catch (FormatException)
        {
            throw new InvalidOperationException($"The kubeconfig field {field} is not valid base64.");
        }
    }

    private static string Resolve(string path, string baseDirectory) => Path.IsPathRooted(path) ? path : Path.Combine(baseDirectory, path);
}
