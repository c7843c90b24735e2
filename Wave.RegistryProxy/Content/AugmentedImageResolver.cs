using System.Collections.Concurrent;
using System.Diagnostics;

using Microsoft.Extensions.Caching.Memory;

using Wave.Core.Augmentation;
using Wave.Core.Manifests;
using Wave.Core.Names;
using Wave.Core.Registry;
using Wave.Core.Requests;
using Wave.Core.Telemetry;

namespace Wave.RegistryProxy.Content;

/// <summary>
/// Computes what a token's tag serves — the upstream manifest (pinned at the digest resolved when the token was
/// issued) with the request's layers and config applied — once per token, and keeps every manifest and config it
/// made servable by digest. For an index, every platform manifest is augmented and the index rewritten; when the
/// request named a platform, that platform's augmented manifest is served alone (see README).
/// </summary>
public sealed class AugmentedImageResolver(UpstreamRegistries upstreams, TokenContentStore contents, ProxyMemoryCache cache, IContainerRecordStore records, ILogger<AugmentedImageResolver> logger)
{
    private const long MaxConfigBytes = 8 * 1024 * 1024;

    // One computation per token in this process; concurrent pulls of a fresh token wait for the same work.
    private readonly ConcurrentDictionary<string, Lazy<Task<ServedContent>>> _inFlight = new();

    /// <summary>The manifest or index the token's tag resolves to.</summary>
    public async Task<ServedContent> GetRootAsync(ContainerRequest request, CancellationToken cancellationToken)
    {
        var rootDigest = await contents.FindRootAsync(request.Token, cancellationToken);
        if (rootDigest is not null && await contents.FindAsync(request.Token, rootDigest, cancellationToken) is { } root)
        {
            return root;
        }
        var computation = _inFlight.GetOrAdd(request.Token, _ => new Lazy<Task<ServedContent>>(() => ComputeAsync(request)));
        try
        {
            return await computation.Value.WaitAsync(cancellationToken);
        }
        finally
        {
            if (computation.Value.IsCompleted)
            {
                _inFlight.TryRemove(new KeyValuePair<string, Lazy<Task<ServedContent>>>(request.Token, computation));
            }
        }
    }

    /// <summary>A manifest, index or config served by digest under the token, or null when the token has no such content.</summary>
    public async Task<ServedContent?> FindByDigestAsync(ContainerRequest request, string digest, CancellationToken cancellationToken)
    {
        var found = await contents.FindAsync(request.Token, digest, cancellationToken);
        if (found is not null)
        {
            return found;
        }
        if (await contents.FindRootAsync(request.Token, cancellationToken) is null)
        {
            // Nothing computed yet for this token (a client that starts from a digest): compute, then look again.
            await GetRootAsync(request, cancellationToken);
            return await contents.FindAsync(request.Token, digest, cancellationToken);
        }
        return null;
    }

    /// <summary>
    /// The architecture an image manifest served under the token is for: the requested platform, else its entry in the
    /// token's index, else its config when Wave holds it; null when none of these tells (an unchanged single manifest).
    /// </summary>
    public async Task<string?> ArchitectureOfAsync(ContainerRequest request, ServedContent manifest, CancellationToken cancellationToken)
    {
        if (request.Platform is not null && ContainerPlatform.TryParse(request.Platform, out var platform, out _))
        {
            return platform.Architecture;
        }
        var key = $"arch:{request.Token}:{manifest.Digest}";
        if (cache.Cache.TryGetValue(key, out string? known))
        {
            return known;
        }
        string? architecture = null;
        var rootDigest = await contents.FindRootAsync(request.Token, cancellationToken);
        if (rootDigest is not null && rootDigest != manifest.Digest
            && await contents.FindAsync(request.Token, rootDigest, cancellationToken) is { } root && MediaTypes.IsIndex(root.MediaType))
        {
            architecture = ManifestJson.Deserialize<ImageIndex>(root.Bytes).Manifests.FirstOrDefault(m => m.Digest == manifest.Digest)?.Platform?.Architecture;
        }
        if (architecture is null)
        {
            var configDigest = ManifestJson.Deserialize<ImageManifest>(manifest.Bytes).Config.Digest;
            if (await contents.FindAsync(request.Token, configDigest, cancellationToken) is { } config)
            {
                architecture = ManifestJson.Deserialize<ImageConfig>(config.Bytes).Architecture;
            }
        }
        cache.Cache.Set(key, architecture, new MemoryCacheEntryOptions { AbsoluteExpiration = request.ExpiresAt, Size = 64 });
        return architecture;
    }

    // Not tied to one caller's cancellation: other pulls may be waiting for the same result. Its span is a child of
    // the first caller's (the one that started it); the upstream operations it makes are its children.
    private async Task<ServedContent> ComputeAsync(ContainerRequest request)
    {
        using var activity = WaveTelemetry.ActivitySource.StartActivity(WaveTelemetry.Spans.Augment);
        if (activity is not null)
        {
            activity.SetTag(WaveTelemetry.Tags.Token, request.Token);
            activity.SetTag(WaveTelemetry.Tags.SourceImage, request.SourceImage);
            activity.SetTag(WaveTelemetry.Tags.BuildId, request.BuildId);
        }
        var started = Stopwatch.GetTimestamp();
        try
        {
            var root = await ComputeUnobservedAsync(request);
            activity?.SetTag("wave.served.digest", root.Digest);
            WaveTelemetry.RecordAugmentation(Stopwatch.GetElapsedTime(started), succeeded: true);
            return root;
        }
        catch (Exception e)
        {
            WaveTelemetry.Fail(activity, e);
            WaveTelemetry.RecordAugmentation(Stopwatch.GetElapsedTime(started), succeeded: false);
            throw;
        }
    }

    private async Task<ServedContent> ComputeUnobservedAsync(ContainerRequest request)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var cancellationToken = timeout.Token;
        var source = ImageReference.Parse(request.SourceImage);
        var digest = request.SourceDigest
            ?? throw new InvalidOperationException($"container token {request.Token} has no source digest yet: its build {request.BuildId} must complete first");
        var registry = await upstreams.ForAsync(request, cancellationToken);
        var upstream = await registry.GetManifestAsync(source.Registry, source.Repository, digest, cancellationToken);
        var served = new List<ServedContent>();
        ServedContent root;

        if (MediaTypes.IsIndex(upstream.MediaType))
        {
            var index = ManifestJson.Deserialize<ImageIndex>(upstream.Content);
            if (request.Platform is not null)
            {
                ContainerPlatform.TryParse(request.Platform, out var platform, out _);
                var entry = index.ManifestFor(platform!)
                    ?? throw new RegistryException(RegistryErrorKind.NotFound, source.Registry, $"'{source}' no longer has a {request.Platform} manifest");
                root = await ServeImageAsync(registry, request, source, entry.Digest, served, cancellationToken);
            }
            else if (!request.IsAugmented)
            {
                root = Passthrough(upstream);
            }
            else
            {
                var augmentable = index.Manifests
                    .Where(m => MediaTypes.IsImageManifest(m.MediaType) && m.Platform is { Os: not "unknown" })
                    .ToList();
                var results = await Task.WhenAll(augmentable.Select(m => AugmentAsync(registry, request, source, m.Digest, cancellationToken)));
                foreach (var image in results)
                {
                    served.Add(new ServedContent(image.ManifestMediaType, image.Manifest, image.ManifestDigest));
                    served.Add(new ServedContent(ConfigMediaType(image.ManifestMediaType), image.Config, image.ConfigDigest));
                }
                var rewritten = ManifestAugmenter.RewriteIndex(upstream.Content, upstream.MediaType,
                    augmentable.Zip(results).ToDictionary(pair => pair.First.Digest, pair => pair.Second));
                root = new ServedContent(rewritten.IndexMediaType, rewritten.Index, rewritten.IndexDigest);
            }
        }
        else if (request.IsAugmented)
        {
            var image = Augment(request, upstream, await FetchConfigAsync(registry, source, upstream, cancellationToken));
            served.Add(new ServedContent(ConfigMediaType(image.ManifestMediaType), image.Config, image.ConfigDigest));
            root = new ServedContent(image.ManifestMediaType, image.Manifest, image.ManifestDigest);
        }
        else
        {
            root = Passthrough(upstream);
        }

        served.Add(root);
        await contents.SaveAsync(request.Token, request.ExpiresAt, served, root.Digest, cancellationToken);
        logger.LogInformation("Computed {Count} manifests/configs for token {Token}; {SourceImage} serves {Digest}",
            served.Count, request.Token, request.SourceImage, root.Digest);
        _ = RecordServedDigestAsync(request.Token, root.Digest);
        return root;
    }

    private static async Task<ServedContent> ServeImageAsync(RegistryClient registry, ContainerRequest request, ImageReference source, string digest, List<ServedContent> served, CancellationToken cancellationToken)
    {
        if (!request.IsAugmented)
        {
            return Passthrough(await registry.GetManifestAsync(source.Registry, source.Repository, digest, cancellationToken));
        }
        var image = await AugmentAsync(registry, request, source, digest, cancellationToken);
        served.Add(new ServedContent(ConfigMediaType(image.ManifestMediaType), image.Config, image.ConfigDigest));
        return new ServedContent(image.ManifestMediaType, image.Manifest, image.ManifestDigest);
    }

    private static async Task<AugmentedImage> AugmentAsync(RegistryClient registry, ContainerRequest request, ImageReference source, string digest, CancellationToken cancellationToken)
    {
        var manifest = await registry.GetManifestAsync(source.Registry, source.Repository, digest, cancellationToken);
        return Augment(request, manifest, await FetchConfigAsync(registry, source, manifest, cancellationToken));
    }

    private static AugmentedImage Augment(ContainerRequest request, ManifestResponse manifest, byte[] config) =>
        ManifestAugmenter.Augment(manifest.Content, manifest.MediaType, config, request.ContainerConfig!, request.CreatedAt);

    private static async Task<byte[]> FetchConfigAsync(RegistryClient registry, ImageReference source, ManifestResponse manifest, CancellationToken cancellationToken)
    {
        if (!MediaTypes.IsImageManifest(manifest.MediaType))
        {
            throw new InvalidManifestException($"expected an image manifest for {source} but the registry answered {manifest.MediaType}");
        }
        var parsed = ManifestJson.Deserialize<ImageManifest>(manifest.Content);
        var config = await registry.GetBlobBytesAsync(source.Registry, source.Repository, parsed.Config.Digest, MaxConfigBytes, cancellationToken);
        // The digest matched, so a different size means the manifest lies: clients would refuse the config.
        if (config.LongLength != parsed.Config.Size)
        {
            throw new InvalidManifestException($"manifest of {source} says its config {parsed.Config.Digest} has {parsed.Config.Size} bytes, but it has {config.LongLength}");
        }
        return config;
    }

    /// <summary>Fills the record's served digest; a pull never waits for, nor fails with, the record store.</summary>
    private async Task RecordServedDigestAsync(string token, string digest)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await records.SetServedDigestAsync(token, digest, timeout.Token);
        }
        catch (Exception e)
        {
            logger.LogWarning("Recording the served digest of token {Token} failed: {Error}", token, e.Message);
        }
    }

    private static ServedContent Passthrough(ManifestResponse upstream) => new(upstream.MediaType, upstream.Content, upstream.Digest);

    private static string ConfigMediaType(string manifestMediaType) =>
        manifestMediaType == MediaTypes.OciManifest ? MediaTypes.OciConfig : MediaTypes.DockerConfig;
}
