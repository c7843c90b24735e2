using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

using Wave.Core.Persistence;
using Wave.Core.Telemetry;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Infrastructure.Persistence;
using Wave.Tests.Persistence;

using static Wave.Tests.Persistence.TestJobs;

namespace Wave.Tests.Telemetry;

/// <summary>
/// Telemetry observed in this process with the runtime's own listeners. Other tests run alongside, so every assertion
/// picks its own measurements or activities (by trace id or token) out of what the listeners see.
/// </summary>
public sealed class InProcessTelemetryTests(RabbitMqFixture rabbit, RegistryFixture registryFixture, WaveFixture waveFixture)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_build_job_delivery_is_linked_to_its_publish_and_the_handler_runs_under_the_delivery()
    {
        var activities = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name.StartsWith("RabbitMQ.Client", StringComparison.Ordinal) || source.Name == WaveTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activities.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);

        await using var owner = TestRabbitMqQueue.Create((await rabbit.GetAsync()).ConnectionString,
            new BuildQueueOptions { QueueName = UniqueQueueName(), Concurrency = 1 });
        var queue = owner.Queue;
        var job = Job(1);
        ActivityTraceId publishTrace;
        using (var request = WaveTelemetry.ActivitySource.StartActivity("test request"))
        {
            Assert.NotNull(request);
            publishTrace = request.TraceId;
            await queue.PublishAsync(job, Token);
        }

        var handled = new TaskCompletionSource<Activity?>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Token);
        var consumer = Task.Run(() => queue.ConsumeAsync((delivery, _) =>
        {
            handled.TrySetResult(Activity.Current);
            return Task.CompletedTask;
        }, stop.Token), CancellationToken.None);
        var current = await handled.Task.WaitAsync(TimeSpan.FromSeconds(20), Token);
        await stop.CancelAsync();
        await consumer.WaitAsync(TimeSpan.FromSeconds(30), Token);

        var publish = Assert.Single(activities, a => a.Source.Name == "RabbitMQ.Client.Publisher" && a.TraceId == publishTrace);
        Assert.Equal(ActivityKind.Producer, publish.Kind);
        Assert.NotNull(current);
        // The handler's Activity.Current is the delivery (or under it): a consumer span linked to the publish.
        var deliver = current;
        while (deliver is not null && deliver.Source.Name != "RabbitMQ.Client.Subscriber")
        {
            deliver = deliver.Parent;
        }
        Assert.NotNull(deliver);
        Assert.Equal(ActivityKind.Consumer, deliver.Kind);
        Assert.Contains(deliver.Links, link => link.Context.TraceId == publishTrace && link.Context.SpanId == publish.SpanId);
    }

    [Fact]
    public async Task A_pull_counts_in_the_pulls_meter_with_its_architecture_and_media_type()
    {
        var registries = await registryFixture.GetAsync();
        var wave = await waveFixture.GetEmbeddedAsync(registries);
        var pulls = new ConcurrentQueue<(long Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter == WaveTelemetry.Meter && instrument.Name == "wave.pulls")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) => pulls.Enqueue((value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value))));
        listener.Start();

        var answer = await wave.Client.PostContainerAsync(new { containerImage = registries.Images.MultiArch, containerPlatform = "linux/arm64" });
        Assert.True(answer.Status == 200, answer.Text);
        var path = answer.TargetImage[(answer.TargetImage.IndexOf('/') + 1)..];
        using var get = new HttpRequestMessage(HttpMethod.Get, $"/v2/{path[..path.LastIndexOf(':')]}/manifests/{path[(path.LastIndexOf(':') + 1)..]}");
        get.Headers.Accept.ParseAdd("application/vnd.docker.distribution.manifest.v2+json");
        get.Headers.Accept.ParseAdd("application/vnd.oci.image.manifest.v1+json");
        using var response = await wave.Client.SendAsync(get, Token);
        Assert.True(response.IsSuccessStatusCode, $"{response.StatusCode}");
        var mediaType = response.Content.Headers.ContentType!.MediaType;

        // Other tests' pulls may be counted too; this one's has the architecture it asked for and the type it got.
        Assert.Contains(pulls, p => p.Value == 1
            && Equals(p.Tags[WaveTelemetry.Tags.Architecture], "arm64")
            && Equals(p.Tags[WaveTelemetry.Tags.MediaType], mediaType));
    }
}
