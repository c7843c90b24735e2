using Wave.Core.Concurrency;

namespace Wave.Tests.Core;

public sealed class SingleFlightTests
{
    [Fact]
    public async Task Concurrent_callers_of_one_key_share_one_call_and_its_result()
    {
        var flights = new SingleFlight<string, int>();
        var release = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        Task<int> Call(string _)
        {
            Interlocked.Increment(ref calls);
            return release.Task;
        }

        var waiting = Enumerable.Range(0, 50).Select(_ => flights.RunAsync("image", Call, TestContext.Current.CancellationToken)).ToList();
        var other = flights.RunAsync("other", _ => Task.FromResult(7), TestContext.Current.CancellationToken);
        release.SetResult(42);

        Assert.All(await Task.WhenAll(waiting), value => Assert.Equal(42, value));
        Assert.Equal(7, await other);
        Assert.Equal(1, calls);
        Assert.Equal(0, flights.Count);
    }

    [Fact]
    public async Task A_caller_after_completion_starts_a_new_call_and_failures_are_not_kept()
    {
        var flights = new SingleFlight<string, int>();
        var calls = 0;
        Task<int> Failing(string _)
        {
            Interlocked.Increment(ref calls);
            return Task.FromException<int>(new InvalidOperationException("upstream down"));
        }

        await Assert.ThrowsAsync<InvalidOperationException>(() => flights.RunAsync("image", Failing, TestContext.Current.CancellationToken));
        Assert.Equal(5, await flights.RunAsync("image", _ => Task.FromResult(5), TestContext.Current.CancellationToken));
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task One_caller_giving_up_does_not_cancel_the_shared_call()
    {
        var flights = new SingleFlight<string, int>();
        var release = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var impatient = new CancellationTokenSource();
        var first = flights.RunAsync("image", _ => release.Task, impatient.Token);
        var second = flights.RunAsync("image", _ => Task.FromResult(-1), TestContext.Current.CancellationToken);

        await impatient.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        release.SetResult(3);
        Assert.Equal(3, await second);
    }
}
