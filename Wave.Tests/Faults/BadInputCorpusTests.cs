using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

using Wave.Tests.Infrastructure;

namespace Wave.Tests.Faults;

/// <summary>
/// A corpus of malformed container requests: every one is refused with a 4xx and a JSON message, never a 500, and a
/// client that sends its body byte by byte cannot hold the server.
/// </summary>
public sealed class BadInputCorpusTests : IAsyncLifetime
{
    // Refused before any registry is asked: this host's upstream (127.0.0.1:9) listens nowhere.
    private const string Image = "127.0.0.1:9/library/busybox:latest";
    private static readonly string Hex64 = new('a', 64);
    private static readonly string GoodDigest = "sha256:" + Hex64;

    private WaveTestHost _wave = null!;

    // Builds are enabled (a default build repository) so that build requests reach their validation; nothing is built.
    public async ValueTask InitializeAsync() =>
        _wave = await WaveTestHost.StartAsync(WaveRole.Embedded, new Dictionary<string, string?>
        {
            ["Wave:Limits:MaxRequestBytes"] = "65536",
            ["Wave:Build:DefaultBuildRepository"] = "127.0.0.1:9/wave/builds",
            ["Wave:DataDirectory"] = Path.Combine(Path.GetTempPath(), "wave-bad-input-" + Guid.NewGuid().ToString("N")[..8]),
        });

    public ValueTask DisposeAsync() => _wave.DisposeAsync();

    private static string Layer(string location = "data:H4sIAAAAAAAAAwMAAAAAAAAAAAA=", string gzipDigest = "sha256:" + "b", long gzipSize = 20, string? tarDigest = null) =>
        new JsonObject
        {
            ["containerImage"] = Image,
            ["containerConfig"] = new JsonObject
            {
                ["layers"] = new JsonArray(new JsonObject
                {
                    ["location"] = location,
                    ["gzipDigest"] = gzipDigest.Length == 8 ? "sha256:" + new string('b', 64) : gzipDigest,
                    ["gzipSize"] = gzipSize,
                    ["tarDigest"] = tarDigest ?? GoodDigest,
                }),
            },
        }.ToJsonString();

    public static TheoryData<string, string> Corpus() => new()
    {
        { "empty body", "" },
        { "whitespace", "   \n" },
        { "truncated object", "{\"containerImage\": \"busybox" },
        { "array", "[]" },
        { "null", "null" },
        { "string", "\"busybox\"" },
        { "number", "42" },
        { "trailing comma", $"{{\"containerImage\": \"{Image}\",}}" },
        { "single quotes", "{'containerImage': 'busybox'}" },
        { "comment", $"{{/* x */ \"containerImage\": \"{Image}\", \"containerPlatform\": \"sparc\"}}" },
        { "deep nesting", "{\"containerConfig\":" + new string('[', 200) + new string(']', 200) + "}" },
        { "lone surrogate", "{\"containerImage\": \"\\uD800\"}" },
        { "image is a number", "{\"containerImage\": 5}" },
        { "image is an object", "{\"containerImage\": {\"name\": \"busybox\"}}" },
        { "upper-case repository", "{\"containerImage\": \"Library/BusyBox:latest\"}" },
        { "space in tag", "{\"containerImage\": \"busybox:bad tag\"}" },
        { "tag too long", $"{{\"containerImage\": \"busybox:{new string('t', 200)}\"}}" },
        { "name too long", $"{{\"containerImage\": \"{new string('a', 5000)}\"}}" },
        { "empty image", "{\"containerImage\": \"\"}" },
        { "only a registry", "{\"containerImage\": \"127.0.0.1:9/\"}" },
        { "double slash", "{\"containerImage\": \"127.0.0.1:9//busybox\"}" },
        { "control character", "{\"containerImage\": \"busy\\u0000box\"}" },
        { "short digest", "{\"containerImage\": \"busybox@sha256:1234\"}" },
        { "digest with bad hex", $"{{\"containerImage\": \"busybox@sha256:{new string('z', 64)}\"}}" },
        { "digest unknown algorithm", $"{{\"containerImage\": \"busybox@md5:{new string('a', 32)}\"}}" },
        { "platform unknown", $"{{\"containerImage\": \"{Image}\", \"containerPlatform\": \"windows/amd64\"}}" },
        { "platform empty parts", $"{{\"containerImage\": \"{Image}\", \"containerPlatform\": \"//\"}}" },
        { "platform too many parts", $"{{\"containerImage\": \"{Image}\", \"containerPlatform\": \"linux/arm64/v8/extra\"}}" },
        { "platform is a number", $"{{\"containerImage\": \"{Image}\", \"containerPlatform\": 64}}" },
        { "container file not base64", "{\"containerFile\": \"FROM busybox!!!\"}" },
        { "both image and file", $"{{\"containerImage\": \"{Image}\", \"containerFile\": \"RlJPTSBidXN5Ym94\"}}" },
        { "layer data not base64", Layer(location: "data:not*base64!") },
        { "layer data not gzip", Layer(location: "data:" + Convert.ToBase64String("plain text"u8.ToArray()), gzipSize: 10) },
        { "layer location ftp", Layer(location: "ftp://example.com/layer.tgz") },
        { "layer location empty", Layer(location: "") },
        { "layer digest md5", Layer(gzipDigest: "md5:" + new string('b', 32)) },
        { "layer digest short", Layer(gzipDigest: "sha256:abc") },
        { "layer size negative", Layer(gzipSize: -1) },
        { "layer size wrong", Layer(gzipSize: 999) },
        { "layer tar digest invalid", Layer(tarDigest: "sha256:" + new string('Z', 64)) },
        { "layers not an array", $"{{\"containerImage\": \"{Image}\", \"containerConfig\": {{\"layers\": {{}}}}}}" },
        { "env is a string", $"{{\"containerImage\": \"{Image}\", \"containerConfig\": {{\"env\": \"A=B\"}}}}" },
        { "env holds a number", $"{{\"containerImage\": \"{Image}\", \"containerConfig\": {{\"env\": [5]}}}}" },
        { "entrypoint is an object", $"{{\"containerImage\": \"{Image}\", \"containerConfig\": {{\"entrypoint\": {{}}}}}}" },
        { "too many layers", $"{{\"containerImage\": \"{Image}\", \"containerConfig\": {{\"layers\": [{string.Join(',', Enumerable.Repeat("{\"location\":\"https://example.com/l.tgz\",\"gzipDigest\":\"" + GoodDigest + "\",\"gzipSize\":1,\"tarDigest\":\"" + GoodDigest + "\"}", 100))}]}}}}" },
        { "oversized body", $"{{\"containerImage\": \"{Image}\", \"padding\": \"{new string('x', 100_000)}\"}}" },
    };

    [Theory]
    [MemberData(nameof(Corpus))]
    public async Task Every_malformed_request_is_a_4xx_with_a_json_message(string name, string body)
    {
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.ContentType = new("application/json");
        using var response = await _wave.Client.PostAsync("/v1alpha2/container", content, TestContext.Current.CancellationToken);
        await AssertJsonClientErrorAsync(name, response);
    }

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    /// <summary>Malformed build requests, each with the field its 400 must name.</summary>
    public static TheoryData<string, string, string> BuildCorpus() => new()
    {
        { "containerFile not base64", "{\"containerFile\": \"RlJPTSBidXN5Ym94!!\"}", "containerFile" },
        { "containerFile is a number", "{\"containerFile\": 7}", "containerFile" },
        { "containerFile base64 of nothing", "{\"containerFile\": \"\"}", "containerFile" },
        { "containerFile larger than 10 kB", $"{{\"containerFile\": \"{B64("FROM busybox\n" + string.Concat(Enumerable.Repeat("RUN echo padding-padding-padding-padding\n", 400)))}\"}}", "containerFile" },
        { "containerFile reads the docker credentials", $"{{\"containerFile\": \"{B64("FROM busybox\nRUN cat /root/.docker/config.json\n")}\"}}", "containerFile" },
        { "containerFile mounts a secret", $"{{\"containerFile\": \"{B64("FROM busybox\nRUN --mount=type=secret,id=x cat /run/secrets/x\n")}\"}}", "containerFile" },
        { "containerFile reads the auth file by continuation", $"{{\"containerFile\": \"{B64("FROM busybox\nRUN cat $REGISTRY_\\\nAUTH_FILE\n")}\"}}", "containerFile" },
        { "build platform unknown", $"{{\"containerFile\": \"{B64("FROM busybox\n")}\", \"containerPlatform\": \"plan9/mips\"}}", "containerPlatform" },
        { "build platform too many parts", $"{{\"containerFile\": \"{B64("FROM busybox\n")}\", \"containerPlatform\": \"linux/arm64/v8/x\"}}", "containerPlatform" },
        { "packages type unknown", "{\"packages\": {\"type\": \"NPM\", \"entries\": [\"left-pad\"]}}", "packages.type" },
        { "packages type missing", "{\"packages\": {\"entries\": [\"samtools\"]}}", "packages.type" },
        { "packages entries empty", "{\"packages\": {\"type\": \"CONDA\", \"entries\": []}}", "packages.entries" },
        { "packages is a string", "{\"packages\": \"samtools\"}", "packages" },
        { "packages entries is a string", "{\"packages\": {\"type\": \"CONDA\", \"entries\": \"samtools\"}}", "packages" },
        { "condaFile not base64", "{\"condaFile\": \"not base64 at all\"}", "condaFile" },
    };

    [Theory]
    [MemberData(nameof(BuildCorpus))]
    public async Task Every_malformed_build_request_is_a_400_naming_its_field(string name, string body, string field)
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.ContentType = new("application/json");
        using var response = await _wave.Client.PostAsync("/v1alpha2/container", content, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        Assert.True((int)response.StatusCode == 400, $"{name}: {(int)response.StatusCode} {text}");
        var answer = JsonNode.Parse(text)!;
        Assert.False(string.IsNullOrWhiteSpace(answer["message"]?.GetValue<string>()), $"{name}: no message: {text}");
        var named = answer["field"]?.GetValue<string>() ?? "";
        Assert.True(named == field || named.StartsWith(field + ".", StringComparison.Ordinal), $"{name}: expected field {field}, got '{named}': {text}");
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    public async Task A_body_that_is_not_json_by_content_type_is_a_4xx(string contentType)
    {
        using var content = new StringContent($"{{\"containerImage\": \"{Image}\"}}", Encoding.UTF8, contentType);
        using var response = await _wave.Client.PostAsync("/v1alpha2/container", content, TestContext.Current.CancellationToken);
        await AssertJsonClientErrorAsync(contentType, response);
    }

    [Fact]
    public async Task Invalid_utf8_is_a_4xx()
    {
        byte[] body = [.. "{\"containerImage\": \""u8, 0xC3, 0x28, 0xFF, .. "\"}"u8];
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        using var response = await _wave.Client.PostAsync("/v1alpha2/container", content, TestContext.Current.CancellationToken);
        await AssertJsonClientErrorAsync("invalid utf-8", response);
    }

    private static async Task AssertJsonClientErrorAsync(string name, HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        var status = (int)response.StatusCode;
        Assert.True(status is >= 400 and < 500, $"{name}: {status} {text}");
        var message = JsonNode.Parse(text)?["message"]?.GetValue<string>();
        Assert.False(string.IsNullOrWhiteSpace(message), $"{name}: {status} without a message: {text}");
    }

    [Fact]
    public async Task A_slowloris_body_is_cut_off_and_does_not_hold_the_server()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(_wave.BaseAddress.Host, _wave.BaseAddress.Port, cancellationToken);
        var stream = tcp.GetStream();
        var head = $"POST /v1alpha2/container HTTP/1.1\r\nHost: {_wave.Host}\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{{";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head), cancellationToken);

        var clock = Stopwatch.StartNew();
        var reading = ReadAnswerAsync(stream, cancellationToken);
        while (!reading.IsCompleted && clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            try
            {
                await stream.WriteAsync("\n"u8.ToArray(), cancellationToken);
            }
            catch (IOException)
            {
                break; // the server closed the connection: what we wait for
            }
            // Meanwhile the server serves everyone else.
            using var other = await _wave.Client.GetAsync("/service-info", cancellationToken);
            Assert.True(other.IsSuccessStatusCode);
            await Task.WhenAny(reading, Task.Delay(1000, cancellationToken));
        }
        var answer = await reading.WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"the slow body held the connection for {clock.Elapsed}");
        // Either a 4xx (Kestrel's 408) or a closed connection; never a 500.
        Assert.DoesNotContain(" 500 ", answer.Split('\n')[0], StringComparison.Ordinal);
        if (answer.Length > 0)
        {
            Assert.Matches(@"^HTTP/1\.1 4\d\d ", answer);
        }
    }

    private static async Task<string> ReadAnswerAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        var answer = new StringBuilder();
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
            {
                answer.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }
        }
        catch (IOException)
        {
        }
        return answer.ToString();
    }
}
