using Wave.AppHost.Orchestration;

namespace Wave.Tests.AppHost;

public sealed class HealthAnswerTests
{
    [Theory]
    [InlineData(true, """{"status":"Healthy","checks":{}}""", "Healthy")]
    [InlineData(true, """{"status":"Degraded","checks":{"revocations":{"status":"Degraded"}}}""", "Degraded")]
    [InlineData(false, """{"status":"Unhealthy"}""", "Unhealthy")]
    [InlineData(true, "Healthy", "Healthy")]
    [InlineData(false, "<html>bad gateway</html>", "Unhealthy")]
    [InlineData(true, """{"status":"Sideways"}""", "Healthy")]
    [InlineData(false, "[]", "Unhealthy")]
    public void The_reported_status_wins_over_the_status_code_when_the_body_has_one(bool success, string body, string shown) =>
        Assert.Equal(shown, HealthAnswer.Status(success, body));
}
