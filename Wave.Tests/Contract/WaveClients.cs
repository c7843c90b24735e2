using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Wave.Tests.Contract;

// Two clients of Wave written as the real ones behave (nf-wave's WaveClient in the Nextflow repository, wave-cli's App
// and Client), so that the service is exercised with the exact JSON they send and the exact decisions they make on
// what they read. They are test code of our own: the facts (field names, which answer leads to which call) come from
// reading those clients; nothing of theirs is copied.

/// <summary>
/// nf-wave's request body: every field of its SubmitContainerTokenRequest, written by Groovy's JsonOutput, which
/// writes nulls explicitly (<c>"containerConfig": {"entrypoint": null, ...}</c>, <c>"dryRun": null</c>) and the
/// primitive booleans <c>freeze</c> and <c>mirror</c> always.
/// </summary>
public sealed record NfWaveRequest
{
    public string? TowerAccessToken { get; init; }
    public string? TowerRefreshToken { get; init; }
    public long? TowerWorkspaceId { get; init; }
    public string? TowerEndpoint { get; init; }
    public string? ContainerImage { get; init; }
    public string? ContainerFile { get; init; }
    public NfWaveContainerConfig? ContainerConfig { get; init; } = new();
    public string? ContainerPlatform { get; init; }
    public string? BuildRepository { get; init; }
    public string? CacheRepository { get; init; }
    public string? Timestamp { get; init; } = DateTimeOffset.Now.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture);
    public string? Fingerprint { get; init; } = Guid.NewGuid().ToString("N");
    public bool Freeze { get; init; }
    public string? Format { get; init; }
    public bool? DryRun { get; init; }
    public string? WorkflowId { get; init; }
    public IReadOnlyList<string>? ContainerIncludes { get; init; }
    public NfWavePackages? Packages { get; init; }
    public string? NameStrategy { get; init; }
    public bool Mirror { get; init; }
    public string? ScanMode { get; init; }
    public IReadOnlyList<string>? ScanLevels { get; init; }
    public object? BuildCompression { get; init; }
    public string? BuildTemplate { get; init; }
}

/// <summary>nf-wave's ContainerConfig: empty (all fields null) when the pipeline adds nothing.</summary>
public sealed record NfWaveContainerConfig
{
    public IReadOnlyList<string>? Entrypoint { get; init; }
    public IReadOnlyList<string>? Cmd { get; init; }
    public IReadOnlyList<string>? Env { get; init; }
    public string? WorkingDir { get; init; }
    public IReadOnlyList<NfWaveLayer>? Layers { get; init; }
}

/// <summary>nf-wave's ContainerLayer, with its <c>skipHashing</c> flag.</summary>
public sealed record NfWaveLayer(string Location, string GzipDigest, int GzipSize, string TarDigest, bool? SkipHashing = null);

/// <summary>wave-api's PackagesSpec as nf-wave fills it for a <c>conda</c> directive.</summary>
public sealed record NfWavePackages
{
    public string Type { get; init; } = "CONDA";
    public string? Environment { get; init; }
    public IReadOnlyList<string>? Entries { get; init; }
    public NfWaveCondaOpts? CondaOpts { get; init; }
    public object? PixiOpts { get; init; }
    public object? CranOpts { get; init; }
    public IReadOnlyList<string>? Channels { get; init; }
}

/// <remarks>wave-api's CondaOpts constructor fills every option with its default, so nf-wave always sends baseImage.</remarks>
public sealed record NfWaveCondaOpts(string MambaImage, IReadOnlyList<string>? Commands = null, string? BasePackages = "conda-forge::procps-ng", string? BaseImage = "ubuntu:24.04");

/// <summary>The subset of SubmitContainerTokenResponse the clients read, typed as they type it (Boolean may be null).</summary>
public sealed record ClientSubmitResponse(
    string? RequestId, string? ContainerToken, string TargetImage, string? ContainerImage, string? BuildId, bool? Cached, bool? Freeze, bool? Mirror,
    string? ScanId, bool? Succeeded);

/// <summary>ContainerStatusResponse as the clients parse it: the status must be one of the enum's names.</summary>
public sealed record ClientContainerStatus(string Id, string Status, string? BuildId, bool? Succeeded, string? Reason, string? DetailsUri, DateTimeOffset CreationTime, TimeSpan? Duration);

public sealed class ClientProtocolException(string message) : Exception(message);

public static class ClientJson
{
    public static readonly string[] ContainerStatuses = ["PENDING", "BUILDING", "SCANNING", "DONE"];

    /// <summary>Groovy's JsonOutput: camelCase names, every null written.</summary>
    public static readonly JsonSerializerOptions NfWave = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    /// <summary>Moshi's default: nulls dropped.</summary>
    public static readonly JsonSerializerOptions WaveCli = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>Gson / Moshi reading a SubmitContainerTokenResponse: unknown fields skipped, a wrongly typed one is an error.</summary>
    public static ClientSubmitResponse ParseSubmit(string body)
    {
        var node = JsonNode.Parse(body)!.AsObject();
        return new ClientSubmitResponse(
            Text(node, "requestId"), Text(node, "containerToken"), Text(node, "targetImage") ?? throw new ClientProtocolException("no targetImage: " + body),
            Text(node, "containerImage"), Text(node, "buildId"), Bool(node, "cached"), Bool(node, "freeze"), Bool(node, "mirror"), Text(node, "scanId"), Bool(node, "succeeded"));
    }

    /// <summary>
    /// Both clients' reading of the container status: the status coerced to the ContainerStatus enum, the creation time
    /// through Instant.parse (ISO-8601 with a zone), the duration as seconds with a fraction (wave-cli; nf-wave skips it).
    /// </summary>
    public static ClientContainerStatus ParseContainerStatus(string body)
    {
        var node = JsonNode.Parse(body)!.AsObject();
        var status = Text(node, "status") ?? throw new ClientProtocolException("no status: " + body);
        if (!ContainerStatuses.Contains(status))
        {
            throw new ClientProtocolException($"'{status}' is not a ContainerStatus: {body}");
        }
        TimeSpan? duration = node["duration"] is JsonValue d
            ? TimeSpan.FromSeconds(double.Parse(d.ToJsonString().Trim('"'), CultureInfo.InvariantCulture))
            : null;
        return new ClientContainerStatus(Text(node, "id") ?? throw new ClientProtocolException("no id: " + body), status, Text(node, "buildId"),
            Bool(node, "succeeded"), Text(node, "reason"), Text(node, "detailsUri"), Instant(Text(node, "creationTime"), body), duration);
    }

    /// <summary>java.time.Instant.parse: ISO-8601 in UTC, ending in Z.</summary>
    public static DateTimeOffset Instant(string? text, string body)
    {
        if (text is null || !text.EndsWith('Z')
            || !DateTimeOffset.TryParseExact(text, "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value))
        {
            throw new ClientProtocolException($"'{text}' is not an ISO-8601 instant: {body}");
        }
        return value;
    }

    private static string? Text(JsonObject node, string name) => node[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        var other => throw new ClientProtocolException($"{name} is not a string: {other.ToJsonString()}"),
    };

    private static bool? Bool(JsonObject node, string name) => node[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        var other => throw new ClientProtocolException($"{name} is not a Boolean: {other.ToJsonString()}"),
    };
}

/// <summary>
/// nf-wave's WaveClient: POST /v1alpha2/container with the Platform token both in the body and as
/// <c>Authorization: Bearer</c>, then <c>isContainerReady</c>, which Nextflow calls about once a second before a task
/// may use the image: with a <c>requestId</c>, ready when <c>succeeded</c> says so, else by the container status until
/// DONE (a failure is fatal for the task); without one, by the build status when there is a build not cached; else ready.
/// </summary>
public sealed class NfWaveClient(HttpClient http, string? accessToken = null)
{
    public sealed record Handle(ClientSubmitResponse Response, DateTimeOffset CreatedAt);

    /// <summary>Every status call made, in order, as "container" or "build".</summary>
    public List<string> StatusCalls { get; } = [];

    public async Task<(int Status, string Body)> PostAsync(NfWaveRequest request)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, "/v1alpha2/container")
        {
            Content = new StringContent(JsonSerializer.Serialize(request, ClientJson.NfWave), Encoding.UTF8, "application/json"),
        };
        message.Headers.Add("Traceparent", $"00-{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())}-{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()[..8])}-01");
        if (accessToken is not null)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }
        using var response = await http.SendAsync(message, TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    public async Task<Handle> SendRequestAsync(NfWaveRequest request)
    {
        var (status, body) = await PostAsync(request with { TowerAccessToken = request.TowerAccessToken ?? accessToken });
        if (status != 200)
        {
            throw new ClientProtocolException($"Wave invalid response: POST [{status}] {body}");
        }
        return new Handle(ClientJson.ParseSubmit(body), DateTimeOffset.UtcNow);
    }

    public async Task<bool> IsContainerReadyAsync(Handle handle)
    {
        var response = handle.Response;
        if (response.RequestId is not null)
        {
            return response.Succeeded == true || await CheckContainerCompletionAsync(handle);
        }
        if (response.BuildId is not null && response.Cached != true)
        {
            return await CheckBuildCompletionAsync(handle);
        }
        return true;
    }

    /// <summary>Polls <see cref="IsContainerReadyAsync"/> once a second, as a task waiting for its container does.</summary>
    public async Task AwaitReadyAsync(Handle handle, TimeSpan maxAwait)
    {
        while (!await IsContainerReadyAsync(handle))
        {
            if (DateTimeOffset.UtcNow - handle.CreatedAt > maxAwait)
            {
                throw new TimeoutException($"Wave provisioning for container '{handle.Response.TargetImage}' is exceeding max allowed duration ({maxAwait})");
            }
            await Task.Delay(TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken);
        }
    }

    private async Task<bool> CheckContainerCompletionAsync(Handle handle)
    {
        StatusCalls.Add("container");
        var body = await GetAsync($"/v1alpha2/container/{handle.Response.RequestId}/status");
        var status = ClientJson.ParseContainerStatus(body);
        if (status.Status != "DONE")
        {
            return false;
        }
        if (status.Succeeded == true)
        {
            return true;
        }
        var message = $"Wave provisioning for container '{handle.Response.TargetImage}' did not complete successfully";
        message += status.Reason is null ? "" : $"\n- Reason: {status.Reason}";
        message += status.DetailsUri is null ? "" : $"\n- Find out more here: {status.DetailsUri}";
        throw new ClientProtocolException(message);
    }

    private async Task<bool> CheckBuildCompletionAsync(Handle handle)
    {
        StatusCalls.Add("build");
        var body = await GetAsync($"/v1alpha1/builds/{handle.Response.BuildId}/status");
        var node = JsonNode.Parse(body)!;
        var status = node["status"]!.GetValue<string>();
        if (status is not ("PENDING" or "COMPLETED"))
        {
            throw new ClientProtocolException($"'{status}' is not a BuildStatusResponse.Status: {body}");
        }
        _ = node["startTime"] is { } start ? ClientJson.Instant(start.GetValue<string>(), body) : default;
        _ = node["duration"] is { } duration ? duration.GetValue<double>() : 0;
        if (status != "COMPLETED")
        {
            return false;
        }
        return node["succeeded"]?.GetValue<bool>() == true
            ? true
            : throw new ClientProtocolException($"Wave provisioning for container '{handle.Response.TargetImage}' did not complete successfully - check details here: /view/builds/{handle.Response.BuildId}");
    }

    private async Task<string> GetAsync(string path)
    {
        using var message = new HttpRequestMessage(HttpMethod.Get, path);
        message.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        if (accessToken is not null)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }
        using var response = await http.SendAsync(message, TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return response.IsSuccessStatusCode ? body : throw new ClientProtocolException($"Wave invalid response: GET {path} [{(int)response.StatusCode}] {body}");
    }
}

/// <summary>
/// wave-cli: the request written by Moshi (nulls dropped; the primitive booleans <c>freeze</c> and <c>mirror</c>
/// always; <c>towerEndpoint</c> always, defaulted), then with <c>--await</c>, when the answer has a <c>requestId</c>
/// and no <c>succeeded</c> yet, the container status polled until DONE; the printed result fails unless it succeeded.
/// The real client sleeps 10 s between polls; <see cref="PollInterval"/> is shorter here only to keep the suite quick.
/// </summary>
public sealed class WaveCliClient(HttpClient http)
{
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    public int StatusCalls { get; private set; }

    public static JsonObject Request(object fields)
    {
        var node = JsonSerializer.SerializeToNode(fields, ClientJson.WaveCli)!.AsObject();
        if (node["containerConfig"] is JsonObject { Count: 0 })
        {
            // wave-cli sends a container config only when an option made one.
            node.Remove("containerConfig");
        }
        node["freeze"] ??= false;
        node["mirror"] ??= false;
        node["towerEndpoint"] ??= "https://api.cloud.seqera.io";
        node["timestamp"] ??= DateTimeOffset.Now.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture);
        return node;
    }

    public async Task<(int Status, string Body)> PostAsync(JsonObject request)
    {
        using var content = new StringContent(request.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("/v1alpha2/container", content, TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    /// <summary>What <c>wave --await</c> does: submit, await if there is something to wait for, and fail on a failure.</summary>
    public async Task<(ClientSubmitResponse Response, ClientContainerStatus? Status)> RunAsync(JsonObject request, TimeSpan? maxAwait)
    {
        var (code, body) = await PostAsync(request);
        if (code != 200)
        {
            throw new ClientProtocolException($"Wave invalid response: [{code}] {body}");
        }
        var response = ClientJson.ParseSubmit(body);
        if (maxAwait is not { } max || response.RequestId is null || response.Succeeded is not null)
        {
            return (response, null);
        }
        var status = await AwaitCompletionAsync(response.RequestId, max);
        if (status.Succeeded != true)
        {
            var message = "Container provisioning did not complete successfully";
            message += string.IsNullOrEmpty(status.Reason) ? "" : "\n- Reason: " + status.Reason;
            message += string.IsNullOrEmpty(status.DetailsUri) ? "" : "\n- Find out more here: " + status.DetailsUri;
            throw new ClientProtocolException(message);
        }
        return (response, status);
    }

    private async Task<ClientContainerStatus> AwaitCompletionAsync(string requestId, TimeSpan max)
    {
        var start = DateTimeOffset.UtcNow;
        while (true)
        {
            StatusCalls++;
            using var response = await http.GetAsync($"/v1alpha2/container/{requestId}/status", TestContext.Current.CancellationToken);
            var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new ClientProtocolException($"Wave invalid response: [{(int)response.StatusCode}] {body}");
            }
            var status = ClientJson.ParseContainerStatus(body);
            if (status.Status == "DONE")
            {
                return status;
            }
            if (DateTimeOffset.UtcNow - start > max)
            {
                throw new TimeoutException($"Container provisioning did not complete within the max await time ({max})");
            }
            await Task.Delay(PollInterval, TestContext.Current.CancellationToken);
        }
    }
}
