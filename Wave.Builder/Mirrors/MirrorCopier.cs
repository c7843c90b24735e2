using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;

using Microsoft.Extensions.Options;

using Wave.Core.Builds;
using Wave.Core.Mirrors;
using Wave.Core.Names;
using Wave.Core.Registry;
using Wave.Core.Security;

namespace Wave.Builder.Mirrors;

/// <summary>
/// Runs one mirror's copy, the I/O around <see cref="MirrorPlanner"/>: reads the source's manifests (every platform of
/// an index, and the index itself) by digest, then copies blob by blob: a blob the target repository holds already
/// (HEAD) is skipped, any other is downloaded to a file, checked against its digest and size, and uploaded under that
/// digest; then the manifests are stored by digest with the bytes read from the source, children first, and the tag
/// last. The target's tag is finally read back: it must have the source's digest. Registry failures end the copy as
/// failed with the reason (the client can ask again: a new attempt starts); failures of Wave itself throw, and the job
/// goes back to the queue.
/// </summary>
public sealed class MirrorCopier(
    RegistryClient registry,
    IRegistryCredentialsProvider configured,
    CredentialSealer sealer,
    IOptions<MirrorOptions> options,
    TimeProvider time)
{
    private const string Prefix = "[mirror] ";

    public async Task<MirrorOutcome> CopyAsync(MirrorJob job, IBuildLogSink log, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var counts = new Counts();
        var source = ImageReference.Parse(job.SourceImage);
        var target = ImageReference.Parse(job.TargetImage);
        var credentials = await CredentialsAsync(job, cancellationToken);
        if (credentials is null)
        {
            return await FailAsync(log, "the registry login the request brought from Seqera Platform cannot be opened here " +
                "(the builder's Wave:Security:CredentialsKey, or its state store, differs from the Api's); ask again", counts, started);
        }
        var client = registry.WithCredentials(credentials);
        var work = Path.Combine(options.Value.WorkDirectory ?? Path.Combine(Path.GetTempPath(), "wave-mirror"), job.MirrorId + "-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            Directory.CreateDirectory(work);
            await log.AppendAsync($"{Prefix}copying {job.SourceImage}@{job.SourceDigest} to {job.TargetImage}\n", cancellationToken);
            var manifests = await FetchManifestsAsync(client, source, job.SourceDigest, cancellationToken);
            var plan = MirrorPlanner.Plan(job.SourceDigest, target.Tag, manifests);
            await log.AppendAsync(Describe(plan), cancellationToken);

            await Parallel.ForEachAsync(plan.Blobs, new ParallelOptions { MaxDegreeOfParallelism = options.Value.ParallelBlobs, CancellationToken = cancellationToken },
                async (blob, ct) => await CopyBlobAsync(client, source, target, blob, work, counts, log, ct));

            foreach (var push in plan.Manifests)
            {
                var stored = await client.PushManifestAsync(target.Registry, target.Repository, push.Reference, push.Content, push.MediaType, cancellationToken);
                if (!string.Equals(stored, push.Digest, StringComparison.Ordinal))
                {
                    return await FailAsync(log, $"the target stored manifest {push.Digest} under digest {stored}", counts, started);
                }
                Interlocked.Increment(ref counts.Manifests);
                await log.AppendAsync(push.Reference == push.Digest
                    ? $"{Prefix}manifest {push.Digest} ({Short(push.MediaType)}) stored\n"
                    : $"{Prefix}tag {push.Reference} set to {push.Digest}\n", cancellationToken);
            }

            var written = await client.HeadManifestAsync(target.Registry, target.Repository, target.Reference, cancellationToken);
            if (!string.Equals(written.Digest, job.SourceDigest, StringComparison.Ordinal))
            {
                return await FailAsync(log, $"{job.TargetImage} reads back as {written.Digest}, not the source's {job.SourceDigest}", counts, started);
            }
            var elapsed = time.GetElapsedTime(started);
            await log.AppendAsync(string.Create(CultureInfo.InvariantCulture,
                $"{Prefix}done in {elapsed.TotalSeconds:0.0} s: {counts.Copied} blobs copied ({counts.Bytes} bytes), {counts.Skipped} already at the target, {counts.Manifests} manifests written; {job.TargetImage} is {written.Digest}\n"),
                cancellationToken);
            return new MirrorOutcome(true, written.Digest, null, elapsed, counts.Snapshot());
        }
        catch (RegistryException e)
        {
            return await FailAsync(log, e.Message, counts, started);
        }
        catch (UnsupportedMirrorSourceException e)
        {
            return await FailAsync(log, $"{job.SourceImage} cannot be mirrored: {e.Message}", counts, started);
        }
        catch (BlobMismatchException e)
        {
            return await FailAsync(log, e.Message, counts, started);
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
        }
    }

    /// <summary>Platform logins the request brought (sealed to this mirror), in front of Wave's configured ones; null when one cannot be opened.</summary>
    private async Task<IRegistryCredentialsProvider?> CredentialsAsync(MirrorJob job, CancellationToken cancellationToken)
    {
        IRegistryCredentialsProvider provider = configured;
        foreach (var sealedLogin in new[] { job.TargetCredentials, job.SourceCredentials })
        {
            if (sealedLogin is null)
            {
                continue;
            }
            var login = await sealer.OpenAsync(job.MirrorId, sealedLogin, cancellationToken);
            if (login is null)
            {
                return null;
            }
            provider = new SingleRegistryCredentials(sealedLogin.Registry, login, provider);
        }
        return provider;
    }

    private static async Task<Dictionary<string, MirrorManifest>> FetchManifestsAsync(RegistryClient client, ImageReference source, string rootDigest, CancellationToken cancellationToken)
    {
        var fetched = new Dictionary<string, MirrorManifest>(StringComparer.Ordinal);
        var missing = new List<string> { rootDigest };
        while (missing.Count > 0)
        {
            // By digest: the client checks the bytes hash to it before they are used.
            var answers = await Task.WhenAll(missing.Select(digest => client.GetManifestAsync(source.Registry, source.Repository, digest, cancellationToken)));
            foreach (var answer in answers)
            {
                fetched[answer.Digest] = new MirrorManifest(answer.Digest, answer.MediaType, answer.Content);
            }
            missing = [.. MirrorPlanner.MissingManifests(rootDigest, fetched)];
            if (fetched.Count + missing.Count > MirrorPlanner.MaxManifests)
            {
                throw new UnsupportedMirrorSourceException($"the image lists more than {MirrorPlanner.MaxManifests} manifests");
            }
        }
        return fetched;
    }

    private async Task CopyBlobAsync(RegistryClient client, ImageReference source, ImageReference target, BlobCopy blob, string work,
        Counts counts, IBuildLogSink log, CancellationToken cancellationToken)
    {
        if (await client.BlobExistsAsync(target.Registry, target.Repository, blob.Digest, cancellationToken))
        {
            Interlocked.Increment(ref counts.Skipped);
            MirrorTelemetry.RecordBlob(blob.Size, copied: false);
            await log.AppendAsync($"{Prefix}blob {blob.Digest} ({blob.Size} bytes) is at the target already: not copied\n", cancellationToken);
            return;
        }
        var file = Path.Combine(work, blob.Digest.Replace(':', '-'));
        try
        {
            await DownloadAsync(client, source, blob, file, cancellationToken);
            await client.UploadBlobFileAsync(target.Registry, target.Repository, file, blob.Digest, cancellationToken: cancellationToken);
        }
        finally
        {
            File.Delete(file);
        }
        Interlocked.Increment(ref counts.Copied);
        Interlocked.Add(ref counts.Bytes, blob.Size);
        MirrorTelemetry.RecordBlob(blob.Size, copied: true);
        await log.AppendAsync($"{Prefix}blob {blob.Digest} ({blob.Size} bytes) copied\n", cancellationToken);
    }

    /// <summary>The blob to a file, hashed on the way; its digest and size must be what the manifest says.</summary>
    private static async Task DownloadAsync(RegistryClient client, ImageReference source, BlobCopy blob, string file, CancellationToken cancellationToken)
    {
        var algorithm = blob.Digest[..blob.Digest.IndexOf(':')] switch
        {
            "sha256" => HashAlgorithmName.SHA256,
            "sha384" => HashAlgorithmName.SHA384,
            "sha512" => HashAlgorithmName.SHA512,
            var other => throw new UnsupportedMirrorSourceException($"blob {blob.Digest} has a digest algorithm ({other}) Wave cannot check"),
        };
        using var response = await client.GetBlobFollowingRedirectsAsync(source.Registry, source.Repository, blob.Digest, cancellationToken);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        await using var output = new FileStream(file, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        using var hash = IncrementalHash.CreateHash(algorithm);
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        long total = 0;
        try
        {
            int read;
            while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
            {
                total += read;
                if (total > blob.Size)
                {
                    throw new BlobMismatchException($"registry {source.Registry} sent more than the {blob.Size} bytes of blob {blob.Digest}");
                }
                hash.AppendData(buffer, 0, read);
                await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        if (total != blob.Size)
        {
            throw new BlobMismatchException($"registry {source.Registry} sent {total} of the {blob.Size} bytes of blob {blob.Digest}");
        }
        var actual = blob.Digest[..(blob.Digest.IndexOf(':') + 1)] + Convert.ToHexStringLower(hash.GetHashAndReset());
        if (!string.Equals(actual, blob.Digest, StringComparison.Ordinal))
        {
            throw new BlobMismatchException($"registry {source.Registry} sent bytes for blob {blob.Digest} that hash to {actual}");
        }
    }

    private static string Describe(MirrorPlan plan)
    {
        var what = MediaTypesText(plan);
        var text = string.Create(CultureInfo.InvariantCulture,
            $"{Prefix}{what}: {plan.Blobs.Count} blobs ({plan.TotalBytes} bytes), {plan.Manifests.Count} manifest writes\n");
        if (plan.ForeignLayers.Count > 0)
        {
            text += $"{Prefix}{plan.ForeignLayers.Count} foreign layers are not copied (registries do not distribute them)\n";
        }
        return text;
    }

    private static string MediaTypesText(MirrorPlan plan) => Core.Manifests.MediaTypes.IsIndex(plan.RootMediaType)
        ? $"an index ({Short(plan.RootMediaType)}) of {plan.Platforms.Count} manifests: {string.Join(", ", plan.Platforms)}"
        : $"one manifest ({Short(plan.RootMediaType)})";

    private static string Short(string mediaType) => mediaType.Replace("application/vnd.", "", StringComparison.Ordinal);

    private async Task<MirrorOutcome> FailAsync(IBuildLogSink log, string reason, Counts counts, long started)
    {
        await log.AppendAsync($"{Prefix}failed: {reason}\n", CancellationToken.None);
        return new MirrorOutcome(false, null, reason, time.GetElapsedTime(started), counts.Snapshot());
    }

    private sealed class BlobMismatchException(string message) : Exception(message);

    /// <summary>Counted by parallel blob copies.</summary>
    private sealed class Counts
    {
        public int Copied;
        public int Skipped;
        public long Bytes;
        public int Manifests;

        public MirrorCounts Snapshot() => new(Volatile.Read(ref Copied), Volatile.Read(ref Skipped), Interlocked.Read(ref Bytes), Volatile.Read(ref Manifests));
    }
}
