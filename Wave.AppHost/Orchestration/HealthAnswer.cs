using System.Text.Json;

namespace Wave.AppHost.Orchestration;

/// <summary>What the dashboard shows for a service's <c>/health</c> answer.</summary>
public static class HealthAnswer
{
    /// <summary>
    /// The overall status the service reports in its JSON body (<c>Healthy</c>, <c>Degraded</c>, <c>Unhealthy</c>):
    /// a Degraded service still answers 200, so the status code alone would show it as Healthy. Without a readable
    /// status, the code decides.
    /// </summary>
    public static string Status(bool success, string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty("status", out var status)
                && status.GetString() is "Healthy" or "Degraded" or "Unhealthy")
            {
                return status.GetString()!;
            }
        }
        catch (JsonException)
        {
        }
        return success ? "Healthy" : "Unhealthy";
    }
}
