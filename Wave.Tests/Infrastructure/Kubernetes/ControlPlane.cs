using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Wave.Tests.Infrastructure.Kubernetes;

/// <summary>
/// etcd, kube-apiserver and kube-controller-manager started from bare binaries, the way Kubernetes' envtest starts
/// the binaries it downloads: for a machine without <c>start-kube.sh</c> (scripts/test.sh then downloads the release
/// binaries). Same settings as start-kube.sh: loopback only, RBAC, service-account tokens, every controller; a CA, a
/// serving certificate and an admin token of its own.
/// </summary>
internal sealed class ControlPlane : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);
    private readonly List<TestProcess> _processes = [];

    private ControlPlane(string kubeconfigPath) => KubeconfigPath = kubeconfigPath;

    public string KubeconfigPath { get; }

    public static async Task<ControlPlane> StartAsync(string binaries, string directory)
    {
        var etcd = Requirements.Binary("etcd", "etcd-server");
        var pki = System.IO.Directory.CreateDirectory(Path.Combine(directory, "pki")).FullName;
        var logs = System.IO.Directory.CreateDirectory(Path.Combine(directory, "logs")).FullName;

        using var authority = new TestCertificates("wave-test-kube-ca");
        using var serving = authority.Server();
        File.WriteAllText(Path.Combine(pki, "ca.crt"), authority.AuthorityPem);
        File.WriteAllText(Path.Combine(pki, "apiserver.crt"), serving.ExportCertificatePem());
        File.WriteAllText(Path.Combine(pki, "apiserver.key"), serving.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        using (var serviceAccountKey = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            File.WriteAllText(Path.Combine(pki, "sa.key"), serviceAccountKey.ExportECPrivateKeyPem());
            File.WriteAllText(Path.Combine(pki, "sa.pub"), serviceAccountKey.ExportSubjectPublicKeyInfoPem());
        }
        var adminToken = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var controllerToken = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        File.WriteAllText(Path.Combine(pki, "tokens.csv"),
            $"{adminToken},admin,admin,\"system:masters\"\n{controllerToken},system:kube-controller-manager,kube-controller-manager,\"system:masters\"\n");

        var plane = new ControlPlane(Path.Combine(directory, "kubeconfig"));
        try
        {
            var etcdPort = FreePort.Next();
            var etcdPeerPort = FreePort.Next();
            plane.Start(etcd,
            [
                "--name", "wave-test", "--data-dir", Path.Combine(directory, "etcd"),
                "--listen-client-urls", $"http://127.0.0.1:{etcdPort}", "--advertise-client-urls", $"http://127.0.0.1:{etcdPort}",
                "--listen-peer-urls", $"http://127.0.0.1:{etcdPeerPort}", "--initial-advertise-peer-urls", $"http://127.0.0.1:{etcdPeerPort}",
                "--initial-cluster", $"wave-test=http://127.0.0.1:{etcdPeerPort}",
            ]);
            await FreePort.WaitListeningAsync(etcdPort, StartTimeout, () => plane.Output);

            var apiPort = FreePort.Next();
            var apiserver = plane.Start(Path.Combine(binaries, "kube-apiserver"),
            [
                $"--etcd-servers=http://127.0.0.1:{etcdPort}", "--bind-address=127.0.0.1", $"--secure-port={apiPort}",
                "--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
                $"--cert-dir={Path.Combine(directory, "apiserver-certs")}",
                $"--tls-cert-file={Path.Combine(pki, "apiserver.crt")}", $"--tls-private-key-file={Path.Combine(pki, "apiserver.key")}",
                $"--client-ca-file={Path.Combine(pki, "ca.crt")}",
                $"--service-account-key-file={Path.Combine(pki, "sa.pub")}", $"--service-account-signing-key-file={Path.Combine(pki, "sa.key")}",
                "--service-account-issuer=https://kubernetes.default.svc",
                $"--token-auth-file={Path.Combine(pki, "tokens.csv")}", "--authorization-mode=RBAC",
                "--service-cluster-ip-range=10.0.0.0/24",
            ]);
            await WaitReadyAsync(apiPort, adminToken, authority.Authority, apiserver);
            WriteKubeconfig(plane.KubeconfigPath, apiPort, authority.AuthorityPem, adminToken, "admin");
            var controllerKubeconfig = Path.Combine(directory, "kcm.kubeconfig");
            WriteKubeconfig(controllerKubeconfig, apiPort, authority.AuthorityPem, controllerToken, "system:kube-controller-manager");

            plane.Start(Path.Combine(binaries, "kube-controller-manager"),
            [
                $"--kubeconfig={controllerKubeconfig}", $"--authentication-kubeconfig={controllerKubeconfig}",
                $"--authorization-kubeconfig={controllerKubeconfig}", "--authentication-skip-lookup=true",
                "--bind-address=127.0.0.1", $"--secure-port={FreePort.Next()}", $"--cert-dir={Path.Combine(directory, "kcm-certs")}",
                "--controllers=*", "--leader-elect=false", "--use-service-account-credentials=false",
                $"--service-account-private-key-file={Path.Combine(pki, "sa.key")}", $"--root-ca-file={Path.Combine(pki, "ca.crt")}",
                $"--flex-volume-plugin-dir={Path.Combine(directory, "flexvolume")}",
            ]);
            return plane;
        }
        catch
        {
            File.WriteAllText(Path.Combine(logs, "control-plane.log"), plane.Output);
            await plane.DisposeAsync();
            throw;
        }
    }

    private string Output => string.Join("\n----\n", _processes.Select(p => p.Output));

    private TestProcess Start(string binary, IReadOnlyList<string> arguments)
    {
        var process = TestProcess.Start(binary, arguments);
        _processes.Add(process);
        return process;
    }

    private static async Task WaitReadyAsync(int port, string token, X509Certificate2 authority, TestProcess apiserver)
    {
        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(authority);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return certificate is not null && chain.Build(certificate);
            },
        };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            Assert.False(apiserver.HasExited, $"kube-apiserver exited:\n{apiserver.Output}");
            try
            {
                using var response = await client.GetAsync($"https://127.0.0.1:{port}/readyz");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }
            Assert.True(DateTime.UtcNow < deadline, $"kube-apiserver was not ready after {StartTimeout.TotalMinutes:0} min:\n{apiserver.Output}");
            await Task.Delay(200);
        }
    }

    private static void WriteKubeconfig(string path, int port, string authorityPem, string token, string user) =>
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: wave-test
              cluster:
                server: https://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}
                certificate-authority-data: {Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(authorityPem))}
            users:
            - name: {user}
              user:
                token: {token}
            contexts:
            - name: wave-test
              context:
                cluster: wave-test
                user: {user}
            current-context: wave-test
            """);

    public async ValueTask DisposeAsync()
    {
        // The controller manager first, etcd last.
        for (var i = _processes.Count - 1; i >= 0; i--)
        {
            await _processes[i].DisposeAsync();
        }
        _processes.Clear();
    }
}
