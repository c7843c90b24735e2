using Microsoft.Extensions.Configuration;

using Wave.ServiceDefaults.Discovery;

namespace Wave.Tests.ServiceDefaults;

public sealed class ServiceEndpointResolverTests
{
    private static readonly IConfiguration Configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["services:api:http:0"] = "http://localhost:5101",
        ["services:api:https:0"] = "https://localhost:7101",
        ["services:builder:http:0"] = "http://127.0.0.1:5202/base/",
        ["services:proxy:registry:0"] = "http://127.0.0.1:5303",
        ["services:bare:http:0"] = "127.0.0.1:5404",
    }).Build();

    [Theory]
    [InlineData("http://api/v1alpha2/container?x=1", "http://localhost:5101/v1alpha2/container?x=1")]
    [InlineData("https://api/health", "https://localhost:7101/health")]
    [InlineData("https+http://api/health", "https://localhost:7101/health")]
    [InlineData("http+https://api/health", "http://localhost:5101/health")]
    [InlineData("https+http://builder/jobs", "http://127.0.0.1:5202/base/jobs")]
    [InlineData("http://_registry.proxy/v2/", "http://127.0.0.1:5303/v2/")]
    [InlineData("http://bare/x", "http://127.0.0.1:5404/x")]
    [InlineData("http://API:1234/upper", "http://localhost:5101/upper")]
    public void Service_names_become_configured_addresses(string requested, string expected) =>
        Assert.Equal(new Uri(expected), ServiceEndpointResolver.Resolve(new Uri(requested), Configuration));

    [Theory]
    [InlineData("https://registry-1.docker.io/v2/")]
    [InlineData("http://127.0.0.1:5000/v2/")]
    [InlineData("http://unknown/path")]
    public void Real_host_names_pass_unchanged(string requested) =>
        Assert.Equal(new Uri(requested), ServiceEndpointResolver.Resolve(new Uri(requested), Configuration));

    [Fact]
    public void A_service_scheme_without_configuration_names_the_missing_setting()
    {
        var error = Assert.Throws<InvalidOperationException>(() => ServiceEndpointResolver.Resolve(new Uri("https+http://missing/x"), Configuration));

        Assert.Contains("services__missing__https__0", error.Message);
        Assert.Contains("services__missing__http__0", error.Message);
    }
}
