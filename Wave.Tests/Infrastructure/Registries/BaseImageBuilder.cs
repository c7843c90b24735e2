namespace Wave.Tests.Infrastructure;

/// <summary>
/// Makes the busybox base images offline with buildah (busybox-static for amd64, the arm64 .deb for arm64) and
/// pushes them. Buildah runs on vfs with a private storage root so concurrent runs do not share state.
/// </summary>
internal static class BaseImageBuilder
{
    private const string Path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    private static readonly string ArmCache = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "wave-test-cache", "busybox-arm64");

    public static async Task<BaseImages> BuildAndPushAsync(string workDirectory, RegistryServer plain, RegistryServer basic, RegistryServer bearer)
    {
        var buildah = new Buildah(Requirements.Binary("buildah", "buildah"), workDirectory);
        var amd64Busybox = Requirements.Binary("busybox", "busybox-static");
        var arm64Busybox = await Arm64BusyboxAsync();
        try
        {
            await buildah.CommitBusyboxAsync(amd64Busybox, "amd64", "localhost/wave-base:amd64");
            await buildah.CommitBusyboxAsync(arm64Busybox, "arm64", "localhost/wave-base:arm64");

            var images = new BaseImages(
                DockerV2: $"{plain.Host}/base/busybox:v2",
                Oci: $"{plain.Host}/base/busybox:oci",
                MultiArch: $"{plain.Host}/base/busybox:multi",
                BasicPrivate: $"{basic.Host}/private/busybox:v2",
                BearerPrivate: $"{bearer.Host}/private/busybox:v2");
            await buildah.RunAsync(["push", "--tls-verify=false", "--format", "v2s2", "localhost/wave-base:amd64", "docker://" + images.DockerV2]);
            await buildah.RunAsync(["push", "--tls-verify=false", "--format", "oci", "localhost/wave-base:amd64", "docker://" + images.Oci]);
            await buildah.RunAsync(["push", "--tls-verify=false", "--format", "v2s2", "--creds", Creds(basic), "localhost/wave-base:amd64", "docker://" + images.BasicPrivate]);
            await buildah.RunAsync(["push", "--tls-verify=false", "--format", "v2s2", "--creds", Creds(bearer), "localhost/wave-base:amd64", "docker://" + images.BearerPrivate]);

            await buildah.RunAsync(["manifest", "create", "localhost/wave-base:multi"]);
            await buildah.RunAsync(["manifest", "add", "localhost/wave-base:multi", "containers-storage:localhost/wave-base:amd64"]);
            await buildah.RunAsync(["manifest", "add", "localhost/wave-base:multi", "containers-storage:localhost/wave-base:arm64"]);
            await buildah.RunAsync(["manifest", "push", "--all", "--tls-verify=false", "localhost/wave-base:multi", "docker://" + images.MultiArch]);
            return images;
        }
        finally
        {
            await buildah.DeleteStorageAsync();
        }
    }

    private static string Creds(RegistryServer server) => $"{server.Credentials!.Username}:{server.Credentials.Password}";

    /// <summary>The arm64 busybox binary, downloaded once per machine (apt-get download of busybox-static:arm64) and cached.</summary>
    private static async Task<string> Arm64BusyboxAsync()
    {
        var binary = System.IO.Path.Combine(ArmCache, "bin", "busybox");
        if (File.Exists(binary))
        {
            return binary;
        }
        var dpkg = Requirements.Binary("dpkg", "dpkg");
        var aptGet = Requirements.Binary("apt-get", "apt");
        var dpkgDeb = Requirements.Binary("dpkg-deb", "dpkg");
        var download = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "wave-test-cache", "download-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(download);
        try
        {
            var architectures = await TestProcess.RunAsync(dpkg, ["--print-foreign-architectures"]);
            if (!architectures.Split('\n').Contains("arm64"))
            {
                await TestProcess.RunAsync(dpkg, ["--add-architecture", "arm64"]);
                await TestProcess.RunAsync(aptGet, ["update"], TimeSpan.FromMinutes(5));
            }
            await using (var fetch = TestProcess.Start(aptGet, ["download", "busybox-static:arm64"], workingDirectory: download))
            {
                if (await fetch.WaitForExitAsync(TimeSpan.FromMinutes(3)) != 0)
                {
                    throw new InvalidOperationException(
                        "could not download busybox-static:arm64 for the multi-arch base image " +
                        "(needs `dpkg --add-architecture arm64 && apt-get update` and access to the Debian mirror):\n" + fetch.Output);
                }
            }
            var deb = Directory.GetFiles(download, "*.deb").Single();
            var extracted = ArmCache + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
            await TestProcess.RunAsync(dpkgDeb, ["-x", deb, extracted]);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(ArmCache)!);
            try
            {
                Directory.Move(extracted, ArmCache);
            }
            catch (IOException) when (File.Exists(binary))
            {
                // another run cached it first
                Directory.Delete(extracted, recursive: true);
            }
            return binary;
        }
        finally
        {
            Directory.Delete(download, recursive: true);
        }
    }

    private sealed class Buildah(string binary, string workDirectory)
    {
        private readonly Dictionary<string, string?> _environment = new()
        {
            ["STORAGE_DRIVER"] = "vfs",
            ["BUILDAH_ISOLATION"] = "chroot",
        };

        public async Task<string> RunAsync(IEnumerable<string> arguments)
        {
            string[] storage = ["--root", System.IO.Path.Combine(workDirectory, "root"), "--runroot", System.IO.Path.Combine(workDirectory, "run")];
            var output = await TestProcess.RunAsync(binary, storage.Concat(arguments), TimeSpan.FromMinutes(2), _environment);
            return output.Trim();
        }

        /// <summary>A scratch image holding busybox, its applet links, /etc/base-image.txt, Cmd /bin/sh and PATH.</summary>
        public async Task CommitBusyboxAsync(string busybox, string architecture, string tag)
        {
            var container = (await RunAsync(["from", "--arch", architecture, "scratch"])).Split('\n')[^1];
            var mount = (await RunAsync(["mount", container])).Split('\n')[^1];
            Directory.CreateDirectory(System.IO.Path.Combine(mount, "bin"));
            Directory.CreateDirectory(System.IO.Path.Combine(mount, "etc"));
            Directory.CreateDirectory(System.IO.Path.Combine(mount, "tmp"));
            File.Copy(busybox, System.IO.Path.Combine(mount, "bin", "busybox"));
            // The applet list comes from the host's busybox so that a foreign-architecture binary need not run here.
            var applets = await TestProcess.RunAsync(Requirements.Binary("busybox", "busybox-static"), ["--list-full"]);
            foreach (var applet in applets.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var link = System.IO.Path.Combine(mount, applet.TrimStart('/'));
                Directory.CreateDirectory(System.IO.Path.GetDirectoryName(link)!);
                if (!File.Exists(link) && !Directory.Exists(link))
                {
                    File.CreateSymbolicLink(link, "/bin/busybox");
                }
            }
            await File.WriteAllTextAsync(System.IO.Path.Combine(mount, "etc", "base-image.txt"), "wave base image\n");
            await RunAsync(["umount", container]);
            await RunAsync(["config", "--arch", architecture, "--os", "linux", "--cmd", "[\"/bin/sh\"]", "--env", Path, container]);
            await RunAsync(["commit", "--quiet", container, tag]);
            await RunAsync(["rm", container]);
        }

        public async Task DeleteStorageAsync()
        {
            try
            {
                await RunAsync(["rm", "--all"]);
                await RunAsync(["rmi", "--all", "--force"]);
            }
            catch (CommandFailedException)
            {
            }
            try
            {
                Directory.Delete(workDirectory, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }
}
