using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using WebLlm.Contracts;

namespace WebLlm.Server.Tests;

public class LoadTests
{
    [Fact]
    public async Task Twenty_concurrent_conflicting_commands_let_exactly_one_transition_win()
    {
        await using var factory = new WebLlmFactory();
        var api = new Api(factory.CreateClient());
        var run = await api.LaunchAsync(Api.Tiny(maxSteps: 5000, checkpointEvery: 0));
        await api.WaitForAsync(run.Id, r => r.Status == RunStatus.Running && r.CurrentStep >= 2, "2 steps");

        string[] actions = [.. Enumerable.Repeat("pause", 7), .. Enumerable.Repeat("stop", 7), .. Enumerable.Repeat("resume", 6)];
        using var go = new ManualResetEventSlim();
        var calls = actions.Select(a => Task.Run(async () => { go.Wait(); return (Action: a, Response: await api.CommandAsync(run.Id, a)); })).ToList();
        go.Set();
        var results = await Task.WhenAll(calls);

        var accepted = results.Where(r => r.Response.StatusCode == HttpStatusCode.Accepted).ToList();
        Assert.NotEmpty(accepted);
        string winner = accepted[0].Action;
        // Repeats of the winning command are idempotent (202 "already pausing" / 200 "already stopping"); everything else is 409.
        Assert.All(results.Where(r => r.Action != winner), r => Assert.Equal(HttpStatusCode.Conflict, r.Response.StatusCode));
        Assert.All(results.Where(r => r.Action == winner), r => Assert.True(r.Response.IsSuccessStatusCode));
        var final = await api.WaitForStatusAsync(run.Id, winner == "pause" ? RunStatus.Paused : RunStatus.Stopped);
        var transitions = await api.ListAsync<RunTransitionDto>(ApiRoutes.RunTransitions(run.Id));
        Assert.Single(transitions, t => t.From == RunStatus.Running);
        Assert.Single(transitions, t => t.To == RunStatus.Running); // never a second training loop
        var steps = await api.MetricsAsync(run.Id);
        Assert.Equal(Enumerable.Range(1, steps.Count).Select(i => (long)i), steps.Select(s => s.Step));
        Assert.Equal(final.CurrentStep, steps[^1].Step);
    }

    /// <summary>Many hub clients on one run: each sees strictly increasing steps. 50 here; the soak script uses more.</summary>
    [Fact]
    public async Task Fifty_hub_clients_on_one_run_each_see_strictly_increasing_steps()
    {
        const int clients = 50;
        await using var factory = new WebLlmFactory();
        var api = new Api(factory.CreateClient());
        await api.WaitForBuiltinAsync();
        var seen = Enumerable.Range(0, clients).Select(_ => new ConcurrentQueue<long>()).ToArray();
        var connections = new List<HubConnection>();
        try
        {
            for (int i = 0; i < clients; i++)
            {
                var queue = seen[i];
                var hub = new HubConnectionBuilder()
                    .WithUrl(new Uri(factory.Server.BaseAddress, ApiRoutes.TrainingHub), o =>
                    {
                        o.Transports = HttpTransportType.LongPolling;
                        o.HttpMessageHandlerFactory = _ => factory.Server.CreateHandler();
                    })
                    .Build();
                hub.On<int, byte[]>(nameof(ITrainingClient.StepMetrics), (_, steps) => { foreach (var s in StepColumns.Decode(steps)) queue.Enqueue(s.Step); });
                connections.Add(hub);
            }
            await Task.WhenAll(connections.Select(c => c.StartAsync()));
            var run = await api.LaunchAsync(Api.Tiny(maxSteps: 60));
            await Task.WhenAll(connections.Select(c => c.InvokeAsync(TrainingHubMethods.SubscribeRun, run.Id)));
            await api.WaitForStatusAsync(run.Id, RunStatus.Completed);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (seen.Any(q => !q.Contains(60)) && DateTime.UtcNow < deadline) await Task.Delay(50);
            foreach (var q in seen)
            {
                var steps = q.ToList();
                Assert.NotEmpty(steps);
                Assert.Equal(60, steps[^1]);
                for (int i = 1; i < steps.Count; i++) Assert.True(steps[i] > steps[i - 1], $"step {steps[i]} after {steps[i - 1]}");
            }
        }
        finally
        {
            await Task.WhenAll(connections.Select(c => c.DisposeAsync().AsTask()));
        }
    }
}
