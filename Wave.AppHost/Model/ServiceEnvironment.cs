namespace Wave.AppHost.Model;

/// <summary>The environment variable names of Aspire's conventions, and the telemetry settings every project gets.</summary>
public static class ServiceEnvironment
{
    public static string ConnectionStringKey(string connectionName) => $"ConnectionStrings__{connectionName}";

    public static string ServiceKey(string serviceName) => $"services__{serviceName}__http__0";

    public static IReadOnlyList<KeyValuePair<string, string>> Telemetry(ProjectResource project) =>
    [
        new("OTEL_SERVICE_NAME", project.Name),
        new("OTEL_DOTNET_EXPERIMENTAL_OTLP_EMIT_EXCEPTION_LOG_ATTRIBUTES", "true"),
        new("OTEL_DOTNET_EXPERIMENTAL_OTLP_EMIT_EVENT_LOG_ATTRIBUTES", "true"),
        new("OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY", "in_memory"),
    ];
}
