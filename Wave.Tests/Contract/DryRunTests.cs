using Microsoft.Extensions.DependencyInjection;

using Wave.Core.Persistence;
using Wave.Tests.Builds.EndToEnd;
using Wave.Tests.EndToEnd;
using Wave.Tests.Infrastructure;
using Wave.Tests.Records;

namespace Wave.Tests.Contract;

/// <summary>
/// <c>dryRun: true</c> answers what the request would produce (names, the build id with the <c>_0</c> attempt the
/// Wave server answers) and builds nothing, pushes nothing, issues no token and records nothing.
/// </summary>
public sealed class DryRunTests(RegistryFixture registryFixture, BuildHostFixture buildFixture)
{
    private async Task<(WaveTestHost Wave, TestRegistries Registries)> SetUpAsync()
    {
        var registries = await registryFixture.GetAsync();
        return (await buildFixture.GetAsync(registries), registries);
    }

    [Fact]
    public async Task A_dry_run_dockerfile_request_answers_the_names_and_builds_pushes_and_records_nothing()
    {
        var (wave, registries) = await SetUpAsync();
        var dockerfile = BuildApi.Base64($"FROM {registries.Images.DockerV2}\n{BuildApi.Nonce()}RUN echo dry > /dry.txt\n");
        var repository = $"{registries.Plain.Host}/contract/dry";
        var nf = new NfWaveClient(wave.Client);

        var (status, body) = await nf.PostAsync(new NfWaveRequest { ContainerFile = dockerfile, BuildRepository = repository, Freeze = true, DryRun = true });
        Assert.True(status == 200, body);
        var dry = ClientJson.ParseSubmit(body);
        var (_, ephemeralBody) = await nf.PostAsync(new NfWaveRequest { ContainerFile = dockerfile, DryRun = true });
        var ephemeral = ClientJson.ParseSubmit(ephemeralBody);

        Assert.Matches("^bd-[0-9a-f]{16}_0$", dry.BuildId);
        Assert.StartsWith(repository + ":", dry.TargetImage, StringComparison.Ordinal);
        Assert.False(dry.Cached);
        Assert.True(dry.Succeeded);
        Assert.Contains("\"dryRun\":true", body, StringComparison.Ordinal);
        Assert.Null(ephemeral.ContainerToken);
        Assert.StartsWith($"{wave.Host}/wt/{ephemeral.RequestId}/wave/builds:", ephemeral.TargetImage, StringComparison.Ordinal);

        // Nothing was recorded, queued or pushed, and the would-be token serves nothing.
        var store = wave.Services.GetRequiredService<IBuildStore>();
        Assert.Null(await store.FindLatestByContainerIdAsync(dry.BuildId![3..19], TestContext.Current.CancellationToken));
        Assert.Null(await store.FindLatestByContainerIdAsync(ephemeral.BuildId![3..19], TestContext.Current.CancellationToken));
        Assert.Equal(404, (await wave.GetAsync($"/v1alpha2/container/{dry.RequestId}/status")).Status);
        Assert.Equal(404, (await wave.GetAsync($"/v1alpha2/container/{ephemeral.RequestId}")).Status);
        Assert.Equal(404, (await wave.PullManifestAsync(ephemeral.TargetImage)).Status);
        await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
        Assert.Null(await store.FindLatestByContainerIdAsync(dry.BuildId[3..19], TestContext.Current.CancellationToken));

        // The real request then builds exactly that name, and a dry run after it says the image is there.
        var real = await nf.SendRequestAsync(new NfWaveRequest { ContainerFile = dockerfile, BuildRepository = repository, Freeze = true });
        Assert.Equal(dry.TargetImage, real.Response.TargetImage);
        Assert.Equal(dry.BuildId[..^1] + "1", real.Response.BuildId);
        await nf.AwaitReadyAsync(real, TimeSpan.FromMinutes(8));
        var after = ClientJson.ParseSubmit((await nf.PostAsync(new NfWaveRequest { ContainerFile = dockerfile, BuildRepository = repository, Freeze = true, DryRun = true })).Body);
        Assert.True(after.Cached);
        Assert.Equal(dry.BuildId, after.BuildId);
    }

    [Fact]
    public async Task A_dry_run_augmentation_resolves_the_image_but_issues_no_token()
    {
        var (wave, registries) = await SetUpAsync();
        var cli = new WaveCliClient(wave.Client);
        var (status, body) = await cli.PostAsync(WaveCliClient.Request(new { containerImage = registries.Images.DockerV2, dryRun = true }));
        Assert.True(status == 200, body);
        var answer = ClientJson.ParseSubmit(body);
        Assert.Null(answer.ContainerToken);
        Assert.True(answer.Succeeded);
        Assert.Equal(404, (await wave.PullManifestAsync(answer.TargetImage)).Status);
        Assert.Equal(404, (await wave.GetAsync($"/v1alpha2/container/{answer.RequestId}")).Status);

        // A dry run still checks what it can: a missing image is the same 400 as without it.
        var missing = await cli.PostAsync(WaveCliClient.Request(new { containerImage = registries.Images.DockerV2.Replace(":v2", ":nope"), dryRun = true }));
        Assert.Equal(400, missing.Status);
    }
}
