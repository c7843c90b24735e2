using System.Text;

using Wave.Core.Augmentation;
using Wave.Core.Digests;
using Wave.Core.Manifests;

namespace Wave.Tests.Core;

/// <summary>Real-looking manifests and configs, shaped like what Docker Hub, quay.io and buildah serve.</summary>
internal static class Samples
{
    public static string FakeDigest(char c) => "sha256:" + new string(c, 64);

    // A Docker config with the fields that round trips must not lose: Healthcheck, Labels, ExposedPorts,
    // OnBuild, StopSignal, container_config, created, docker_version, os.version, an empty_layer history entry.
    public const string DockerConfigJson = """
        {
          "architecture": "amd64",
          "config": {
            "Hostname": "",
            "User": "app",
            "ExposedPorts": { "8080/tcp": {} },
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"],
            "Cmd": ["/bin/bash"],
            "Healthcheck": { "Test": ["CMD-SHELL", "curl -f http://localhost:8080/ || exit 1"], "Interval": 30000000000, "Retries": 3 },
            "Image": "sha256:5a81c4b8502e4979e75bd8f91343b95b0d695ab67f241dbed0d1530a35bde1eb",
            "Volumes": { "/data": {} },
            "WorkingDir": "/srv",
            "Entrypoint": ["/docker-entrypoint.sh"],
            "OnBuild": null,
            "Labels": { "org.opencontainers.image.ref.name": "ubuntu", "org.opencontainers.image.version": "22.04", "maintainer": "Ünïcødé <a+b@example.com>" },
            "StopSignal": "SIGTERM"
          },
          "container": "8d0a4a6e4a3f7d8c4a2f1f8e0f6d0e2b4b8c9a7d6e5f4c3b2a1908f7e6d5c4b3",
          "container_config": { "Hostname": "8d0a4a6e4a3f", "Cmd": ["/bin/sh", "-c", "#(nop) ", "CMD [\"/bin/bash\"]"], "Labels": {} },
          "created": "2024-02-27T18:52:59.051223432Z",
          "docker_version": "20.10.23",
          "history": [
            { "created": "2024-02-27T18:52:56.8Z", "created_by": "/bin/sh -c #(nop) ADD file:21c2e8d95909bec6f4acdaf4aed55b44ee13603681f93b152e423e3e6a4a207b in / " },
            { "created": "2024-02-27T18:52:57.2Z", "created_by": "/bin/sh -c #(nop)  LABEL org.opencontainers.image.version=22.04", "empty_layer": true },
            { "created": "2024-02-27T18:52:59.0Z", "created_by": "/bin/sh -c apt-get update", "comment": "buildkit.dockerfile.v0" }
          ],
          "os": "linux",
          "os.version": "5.15",
          "rootfs": {
            "type": "layers",
            "diff_ids": [
              "sha256:1111111111111111111111111111111111111111111111111111111111111111",
              "sha256:2222222222222222222222222222222222222222222222222222222222222222"
            ]
          }
        }
        """;

    public const string OciConfigJson = """
        {"created":"2024-05-01T10:00:00Z","author":"buildah","architecture":"arm64","variant":"v8","os":"linux",
         "config":{"Env":["PATH=/bin"],"Labels":{"io.buildah.version":"1.28.0"}},
         "rootfs":{"type":"layers","diff_ids":["sha256:3333333333333333333333333333333333333333333333333333333333333333"]},
         "history":[{"created":"2024-05-01T10:00:00Z","created_by":"/bin/sh -c #(nop) ADD file:abc in /"}]}
        """;

    public static string DockerManifestJson(byte[] config) => $$"""
        {
          "schemaVersion": 2,
          "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
          "config": { "mediaType": "application/vnd.docker.container.image.v1+json", "size": {{config.Length}}, "digest": "{{Digest.Sha256(config)}}" },
          "layers": [
            { "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 29533422, "digest": "{{FakeDigest('a')}}" },
            { "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "size": 1024, "digest": "{{FakeDigest('b')}}",
              "urls": ["https://mcr.microsoft.com/v2/windows/blobs/sha256:bbbb"] }
          ]
        }
        """;

    // No mediaType field, as some OCI producers write it; annotations on the manifest and on a layer.
    public static string OciManifestJson(byte[] config) => $$"""
        {"schemaVersion":2,
         "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{Digest.Sha256(config)}}","size":{{config.Length}}},
         "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{{FakeDigest('c')}}","size":3623807,
                    "annotations":{"org.opencontainers.image.title":"rootfs.tar.gz"} }],
         "annotations":{"org.opencontainers.image.created":"2024-05-01T10:00:00Z","org.opencontainers.image.base.name":"docker.io/library/busybox:latest"} }
        """;

    public static readonly byte[] DockerConfig = Encoding.UTF8.GetBytes(DockerConfigJson);
    public static readonly byte[] DockerManifest = Encoding.UTF8.GetBytes(DockerManifestJson(DockerConfig));
    public static readonly byte[] OciConfig = Encoding.UTF8.GetBytes(OciConfigJson);
    public static readonly byte[] OciManifest = Encoding.UTF8.GetBytes(OciManifestJson(OciConfig));

    /// <summary>An OCI index with two platforms (one with os.version/features) and a buildkit attestation entry.</summary>
    public static byte[] OciIndex(string amd64Digest, string arm64Digest) => Encoding.UTF8.GetBytes($$"""
        {
          "schemaVersion": 2,
          "mediaType": "application/vnd.oci.image.index.v1+json",
          "manifests": [
            { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{{amd64Digest}}", "size": 1000,
              "platform": { "architecture": "amd64", "os": "linux", "os.version": "10.0.17763", "os.features": ["sse4"] } },
            { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{{arm64Digest}}", "size": 1001,
              "platform": { "architecture": "arm64", "os": "linux", "variant": "v8" } },
            { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{{FakeDigest('e')}}", "size": 566,
              "annotations": { "vnd.docker.reference.digest": "{{amd64Digest}}", "vnd.docker.reference.type": "attestation-manifest" },
              "platform": { "architecture": "unknown", "os": "unknown" } }
          ],
          "annotations": { "org.opencontainers.image.ref.name": "1.0" }
        }
        """);

    public static ContainerLayer Layer(char tar, char gzip, long size = 4096) => new()
    {
        Location = "data:H4sIAAAAAAAA/w==",
        TarDigest = FakeDigest(tar),
        GzipDigest = FakeDigest(gzip),
        GzipSize = size,
    };
}
