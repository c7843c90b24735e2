namespace Wave.Core.Builds;

/// <summary>
/// Refuses recipe text that names a place where a builder keeps the registry credentials it pushes with.
/// </summary>
/// <remarks>
/// The rule: after joining Dockerfile line continuations (a backslash before a newline), the text must not contain,
/// ignoring case, any of <see cref="ForbiddenMarkers"/>: the Docker/Kaniko/BuildKit config paths and variables,
/// the containers-auth (podman/buildah) file and variables, mounted secrets (<c>/run/secrets</c>,
/// <c>/var/run/secrets</c> where Kubernetes mounts service-account tokens) and <c>RUN --mount=type=secret|ssh</c>.
/// It applies to every text a request puts into a Dockerfile: <c>containerFile</c>, <c>condaOpts.commands</c>,
/// <c>condaOpts.basePackages</c> and the frozen <c>containerConfig</c>. This is a deny-list, a first line only:
/// shell can spell any path indirectly, so backends must still keep credentials out of what RUN steps can reach.
/// </remarks>
public static class CredentialReadGuard
{
    public static readonly IReadOnlyList<string> ForbiddenMarkers =
    [
        ".docker/config.json",
        "/kaniko/.docker",
        "DOCKER_CONFIG",
        ".dockercfg",
        "REGISTRY_AUTH_FILE",
        "containers/auth.json",
        "/run/containers/",
        "XDG_RUNTIME_DIR",
        "/run/secrets",
        "BUILDKIT_",
        "type=secret",
        "type=ssh",
    ];

    /// <summary>The first forbidden marker the text contains, or null when it names none.</summary>
    public static string? FindCredentialRead(string text)
    {
        var joined = text.Replace("\\\r\n", "", StringComparison.Ordinal).Replace("\\\n", "", StringComparison.Ordinal);
        return ForbiddenMarkers.FirstOrDefault(marker => joined.Contains(marker, StringComparison.OrdinalIgnoreCase));
    }
}
