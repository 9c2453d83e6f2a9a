using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Xunit.Abstractions;
using WebLlm.Contracts;

namespace WebLlm.Server.Tests.Inference;

/// <summary>
/// Inference while a run trains, and what it costs the run: training tokens/s over a window without inference,
/// then over a window with back-to-back generations. Prints the numbers (docs/PERFORMANCE.md, "Inference while
/// training"); asserts only that both sides make progress. WEBLLM_BENCH_SECONDS sets the window (default 3).
/// </summary>
public class InferenceWhileTrainingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Inference_runs_while_a_run_trains_and_the_training_slowdown_is_reported()
    {
        double seconds = double.TryParse(Environment.GetEnvironmentVariable("WEBLLM_BENCH_SECONDS"), CultureInfo.InvariantCulture, out var s) ? s : 3;
        await using var server = await InferenceServer.StartAsync();
        var run = await server.Api.LaunchAsync(InferenceServer.Run(maxSteps: 1_000_000, checkpointEvery: 5) with { BatchSize = 8, BlockSize = 128 });
        try
        {
            await server.Api.WaitForAsync(run.Id, r => r.LatestCheckpointStep >= 5, "a checkpoint");
            // Alone, shared, alone again: the two alone windows bracket the shared one (the machine is shared too).
            var before = await TrainingWindowAsync(server, run.Id, seconds, inference: false);
            var shared = await TrainingWindowAsync(server, run.Id, seconds, inference: true);
            var after = await TrainingWindowAsync(server, run.Id, seconds, inference: false);
            var alone = new Window((before.TrainTokensPerSecond + after.TrainTokensPerSecond) / 2, before.Steps + after.Steps, 0);
            Assert.Equal(RunStatus.Running, (await server.Api.GetRunAsync(run.Id)).Status);
            Assert.True(alone.TrainTokensPerSecond > 0 && shared.TrainTokensPerSecond > 0);
            Assert.True(shared.InferenceTokens > 0, "no inference happened while training");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"training alone: {before.TrainTokensPerSecond:F0} / {after.TrainTokensPerSecond:F0} tok/s (before / after, {alone.Steps} steps); with inference: {shared.TrainTokensPerSecond:F0} tok/s ({shared.Steps} steps), " +
                $"{shared.InferenceTokens / seconds:F1} inference tok/s; training slowdown {100 * (1 - shared.TrainTokensPerSecond / alone.TrainTokensPerSecond):F0}%"));
        }
        finally
        {
            await server.Api.CommandAsync(run.Id, "stop");
            await server.Api.WaitForAsync(run.Id, r => r.Status == RunStatus.Stopped, "stopped");
        }
    }

    private sealed record Window(double TrainTokensPerSecond, long Steps, long InferenceTokens);

    private static async Task<Window> TrainingWindowAsync(InferenceServer server, int runId, double seconds, bool inference)
    {
        long fromStep = (await server.Api.GetRunAsync(runId)).CurrentStep;
        long tokensBefore = server.Slots.TokensGenerated;
        var clock = Stopwatch.StartNew();
        var load = Task.CompletedTask;
        if (inference)
        {
            load = Task.Run(async () =>
            {
                while (clock.Elapsed.TotalSeconds < seconds)
                {
                    var r = await server.Http.PostAsJsonAsync(ApiRoutes.RunGenerate(runId), new GenerateRequest { Prompt = "The ", MaxTokens = 100 });
                    Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                }
            });
        }
        while (clock.Elapsed.TotalSeconds < seconds) await Task.Delay(50);
        await load;
        long toStep = (await server.Api.GetRunAsync(runId)).CurrentStep;
        // Steps finished inside the window, from the stored per-step timings (checkpoint steps included alike).
        var steps = (await server.Api.MetricsAsync(runId)).Where(m => m.Step > fromStep + 1 && m.Step <= toStep).ToList();
        if (steps.Count == 0) steps = (await server.Api.MetricsAsync(runId)).Where(m => m.Step > fromStep).ToList();
        double ms = steps.Sum(m => m.Milliseconds ?? 0);
        long tokens = steps.Count * 8L * 128;
        return new Window(ms > 0 ? tokens / (ms / 1000) : 0, steps.Count, server.Slots.TokensGenerated - tokensBefore);
    }
}
