using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using WebLlm.Contracts;

namespace WebLlm.Server.Tests;

public class LiveUpdatesTests(WebLlmFactory factory) : IClassFixture<WebLlmFactory>
{
    private readonly Api api = new(factory.CreateClient());

    [Fact]
    public async Task A_client_joining_mid_run_gets_history_over_rest_then_every_later_step_with_no_gap()
    {
        var run = await api.LaunchAsync(Api.Tiny(maxSteps: 60));
        await api.WaitForAsync(run.Id, r => r.CurrentStep >= 5, "5 steps");

        var pushes = new ConcurrentQueue<IReadOnlyList<StepMetricDto>>();
        var updates = new ConcurrentQueue<RunDto>();
        var completed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var hub = new HubConnectionBuilder()
            .WithUrl(new Uri(factory.Server.BaseAddress, ApiRoutes.TrainingHub), o =>
            {
                o.Transports = HttpTransportType.LongPolling;
                o.HttpMessageHandlerFactory = _ => factory.Server.CreateHandler();
            })
            .Build();
        hub.On<int, byte[]>(nameof(ITrainingClient.StepMetrics), (id, steps) => pushes.Enqueue(StepColumns.Decode(steps)));
        hub.On<RunDto>(nameof(ITrainingClient.RunUpdated), r =>
        {
            updates.Enqueue(r);
            if (r.Status == RunStatus.Completed) completed.TrySetResult();
        });
        await hub.StartAsync();
        // Subscribe first, then read the history: what the history misses, the stream brings.
        await hub.InvokeAsync(TrainingHubMethods.SubscribeRun, run.Id);
        var history = await api.MetricsAsync(run.Id);
        await completed.Task.WaitAsync(Api.Patience);

        Assert.NotEmpty(history);
        Assert.NotEmpty(pushes);
        var pushed = pushes.SelectMany(p => p).ToList();
        Assert.True(pushed.Zip(pushed.Skip(1)).All(p => p.Second.Step == p.First.Step + 1), "pushed steps are consecutive and in order");
        Assert.All(pushes, p => Assert.NotEmpty(p));
        Assert.True(pushed[0].Step <= history[^1].Step + 1, $"gap between history (to {history[^1].Step}) and stream (from {pushed[0].Step})");
        var union = history.Concat(pushed).Select(s => s.Step).Distinct().Order().ToList();
        Assert.Equal(Enumerable.Range(1, 60).Select(i => (long)i), union);
        Assert.Equal(60, pushed[^1].Step);
        // Pushed as packed columns, read back as the same values REST stores.
        var stored = (await api.MetricsAsync(run.Id)).ToDictionary(s => s.Step);
        Assert.All(pushed, p => Assert.Equal(stored[p.Step], p));
        Assert.True(pushes.Count < pushed.Count || pushed.Count <= 2, "steps are coalesced into batches");
        Assert.Contains(updates, u => u.Status == RunStatus.Completed && u.CurrentStep == 60);
    }

    [Fact]
    public async Task System_metrics_are_sampled_while_a_run_trains()
    {
        var run = await api.LaunchAsync(Api.Tiny(maxSteps: 2000, checkpointEvery: 0));
        var deadline = DateTime.UtcNow + Api.Patience;
        List<SystemMetricDto> samples;
        while ((samples = await api.ListAsync<SystemMetricDto>(ApiRoutes.RunSystem(run.Id))).Count < 2 && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        await api.CommandAsync(run.Id, "stop");
        await api.WaitForStatusAsync(run.Id, RunStatus.Stopped);

        Assert.True(samples.Count >= 2);
        Assert.All(samples, s => Assert.True(s.ResidentBytes > 0 && s.GcHeapBytes > 0 && s.CpuPercent >= 0 && s.GpuPercent is null));
        Assert.Contains(samples, s => s.CpuPercent > 0);
    }
}
