using System.Net;
using System.Text;

using Wave.Builder.Kubernetes;

namespace Wave.Tests.Builds.Kubernetes;

public sealed class KubernetesConnectionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wave-kube-").FullName;
    private readonly TestCertificates _certificates = new();

    public void Dispose()
    {
        _certificates.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private string KubeconfigYaml(string server, string? extraUser = null) => $"""
        apiVersion: v1
        kind: Config
        current-context: dev
        preferences: {"{}"}
        clusters:
        - name: dev-cluster
          cluster:
            server: {server}
            certificate-authority-data: {B64(_certificates.AuthorityPem)}
        - name: prod-cluster
          cluster:
            server: https://prod.example:6443
            insecure-skip-tls-verify: true
        contexts:
        - name: dev
          context:
            cluster: dev-cluster
            user: dev-user
            namespace: dev-builds
        - name: prod
          context:
            cluster: prod-cluster
            user: prod-user
        users:
        - name: dev-user
          user:
            token: dev-token-123
        - name: prod-user
          user:
            username: admin
            password: hunter2
        {extraUser ?? ""}
        """;

    [Fact]
    public async Task Kubeconfig_current_context_gives_server_namespace_ca_and_token()
    {
        var connection = KubeConfig.Parse(KubeconfigYaml("https://127.0.0.1:6443"), null, _dir);

        Assert.Equal(new Uri("https://127.0.0.1:6443"), connection.Server);
        Assert.Equal("dev-builds", connection.Namespace);
        Assert.False(connection.InsecureSkipTlsVerify);
        Assert.Equal(_certificates.Authority.Thumbprint, Assert.Single(connection.TrustedRoots).Thumbprint);
        var header = (await connection.Auth.AuthorizationAsync(TestContext.Current.CancellationToken))!;
        Assert.Equal("Bearer dev-token-123", header.ToString());
        Assert.DoesNotContain("dev-token-123", connection.ToString());
    }

    [Fact]
    public async Task Kubeconfig_named_context_gives_its_cluster_and_basic_login()
    {
        var connection = KubeConfig.Parse(KubeconfigYaml("https://127.0.0.1:6443"), "prod", _dir);

        Assert.Equal(new Uri("https://prod.example:6443"), connection.Server);
        Assert.Equal("default", connection.Namespace);
        Assert.True(connection.InsecureSkipTlsVerify);
        Assert.Empty(connection.TrustedRoots);
        var header = (await connection.Auth.AuthorizationAsync(TestContext.Current.CancellationToken))!;
        Assert.Equal("Basic", header.Scheme);
        Assert.Equal("admin:hunter2", Encoding.UTF8.GetString(Convert.FromBase64String(header.Parameter!)));
        Assert.DoesNotContain("hunter2", connection.ToString());
    }

    [Fact]
    public void Kubeconfig_errors_name_what_is_missing()
    {
        var yaml = KubeconfigYaml("https://127.0.0.1:6443");
        Assert.Contains("context named 'nope'", Assert.Throws<InvalidOperationException>(() => KubeConfig.Parse(yaml, "nope", _dir)).Message);
        var exec = """
            current-context: c
            clusters: [{name: k, cluster: {server: "https://k:6443"}}]
            contexts: [{name: c, context: {cluster: k, user: u}}]
            users: [{name: u, user: {exec: {command: aws}}}]
            """;
        Assert.Contains("exec", Assert.Throws<InvalidOperationException>(() => KubeConfig.Parse(exec, null, _dir)).Message);
    }

    [Fact]
    public async Task Kubeconfig_relative_files_resolve_next_to_the_kubeconfig()
    {
        File.WriteAllText(Path.Combine(_dir, "ca.pem"), _certificates.AuthorityPem);
        File.WriteAllText(Path.Combine(_dir, "token"), "file-token\n");
        var path = Path.Combine(_dir, "config");
        File.WriteAllText(path, """
            current-context: c
            clusters: [{name: k, cluster: {server: "https://k:6443", certificate-authority: ca.pem}}]
            contexts: [{name: c, context: {cluster: k, user: u, namespace: ns1}}]
            users: [{name: u, user: {tokenFile: token}}]
            """);

        var connection = new KubernetesBuildOptions { Connection = "kubeconfig", Kubeconfig = path, Namespace = "override" }.LoadConnection(_ => null);

        Assert.Equal("override", connection.Namespace);
        Assert.Equal(_certificates.Authority.Thumbprint, Assert.Single(connection.TrustedRoots).Thumbprint);
        Assert.Equal("Bearer file-token", (await connection.Auth.AuthorizationAsync(TestContext.Current.CancellationToken))!.ToString());
    }

    [Fact]
    public async Task In_cluster_config_trusts_the_service_account_ca_and_rereads_a_rotated_token()
    {
        using var serverCertificate = _certificates.Server();
        await using var api = await FakeKubernetesApi.StartAsync("team-a", "Bearer first-token", serverCertificate);
        File.WriteAllText(Path.Combine(_dir, "token"), "first-token");
        File.WriteAllText(Path.Combine(_dir, "ca.crt"), _certificates.AuthorityPem);
        File.WriteAllText(Path.Combine(_dir, "namespace"), "team-a\n");
        var environment = new Dictionary<string, string> { ["KUBERNETES_SERVICE_HOST"] = "127.0.0.1", ["KUBERNETES_SERVICE_PORT"] = $"{api.Server.Port}" };
        var options = new KubernetesBuildOptions { ServiceAccountPath = _dir };

        var connection = options.LoadConnection(environment.GetValueOrDefault);
        using var client = new KubernetesApiClient(connection);

        Assert.Equal(api.Server, connection.Server);
        Assert.Equal("team-a", connection.Namespace);
        Assert.Empty(await client.ListPodsAsync(connection.Namespace, "app=x", TestContext.Current.CancellationToken));

        // The kubelet rotates the projected token: the next request must carry the new one.
        File.WriteAllText(Path.Combine(_dir, "token"), "second-token");
        File.SetLastWriteTimeUtc(Path.Combine(_dir, "token"), DateTime.UtcNow.AddSeconds(5));
        api.ExpectedAuthorization = "Bearer second-token";
        Assert.Empty(await client.ListPodsAsync(connection.Namespace, "app=x", TestContext.Current.CancellationToken));

        Assert.Empty(api.Violations);
        Assert.Equal(["Bearer first-token", "Bearer second-token"], api.Calls.Select(c => c.Authorization));
    }

    [Fact]
    public async Task A_server_certificate_from_another_ca_is_refused()
    {
        using var serverCertificate = _certificates.Server();
        await using var api = await FakeKubernetesApi.StartAsync("default", "Bearer t", serverCertificate);
        using var otherAuthority = new TestCertificates("some-other-ca");
        using var client = new KubernetesApiClient(new KubernetesConnection { Server = api.Server, TrustedRoots = [otherAuthority.Authority], Auth = new BearerTokenAuth("t") });

        await Assert.ThrowsAsync<HttpRequestException>(() => client.ListPodsAsync("default", "app=x", TestContext.Current.CancellationToken));
        Assert.Empty(api.Calls);
    }

    [Fact]
    public async Task Kubeconfig_client_certificate_is_presented_over_tls()
    {
        using var serverCertificate = _certificates.Server();
        await using var api = await FakeKubernetesApi.StartAsync("dev-builds", expectedAuthorization: null, serverCertificate);
        var (certificatePem, keyPem) = _certificates.Client("CN=wave-builder, O=wave");
        var user = $"""
            - name: cert-user
              user:
                client-certificate-data: {B64(certificatePem)}
                client-key-data: {B64(keyPem)}
            contexts2: []
            """;
        var yaml = KubeconfigYaml(api.Server.ToString()).Replace("user: dev-user", "user: cert-user", StringComparison.Ordinal) + "\n" + user.Replace("contexts2: []", "", StringComparison.Ordinal);
        var connection = KubeConfig.Parse(yaml, null, _dir);
        using var client = new KubernetesApiClient(connection);

        await client.ListPodsAsync(connection.Namespace, "app=x", TestContext.Current.CancellationToken);

        var call = Assert.Single(api.Calls);
        Assert.Null(call.Authorization);
        Assert.Contains("CN=wave-builder", call.ClientCertificateSubject);
        Assert.Empty(api.Violations);
    }

    [Fact]
    public async Task Not_found_and_conflict_answers_become_typed_errors()
    {
        await using var api = await FakeKubernetesApi.StartAsync("default", "Bearer t");
        using var client = new KubernetesApiClient(new KubernetesConnection { Server = api.Server, Auth = new BearerTokenAuth("t") });
        var configMap = new System.Text.Json.Nodes.JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "ConfigMap",
            ["metadata"] = new System.Text.Json.Nodes.JsonObject { ["name"] = "c1", ["labels"] = new System.Text.Json.Nodes.JsonObject { ["wave.seqera.io/build-id"] = "b1" } },
            ["data"] = new System.Text.Json.Nodes.JsonObject { ["a"] = "1" },
        };

        Assert.Null(await client.GetJobAsync("default", "missing", TestContext.Current.CancellationToken));
        Assert.False(await client.DeleteJobAsync("default", "missing", TestContext.Current.CancellationToken));
        await client.CreateAsync(KubernetesResource.ConfigMaps, "default", configMap, TestContext.Current.CancellationToken);
        var conflict = await Assert.ThrowsAsync<KubernetesApiException>(() => client.CreateAsync(KubernetesResource.ConfigMaps, "default", (System.Text.Json.Nodes.JsonObject)configMap.DeepClone(), TestContext.Current.CancellationToken));
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        Assert.True(conflict.IsAlreadyExists);
        var replaced = await client.CreateOrReplaceAsync(KubernetesResource.ConfigMaps, "default", (System.Text.Json.Nodes.JsonObject)configMap.DeepClone(), TestContext.Current.CancellationToken);
        Assert.Equal("c1", replaced["metadata"]!["name"]!.ToString());
        Assert.Empty(api.Violations);
    }
}
