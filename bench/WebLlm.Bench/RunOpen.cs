using System.Diagnostics;
using System.Net.Http.Json;
using WebLlm.Contracts;
using WebLlm.Training.Benchmarks;

namespace WebLlm.Bench;

/// <summary>How long the run page takes to show a run of <see cref="Steps"/> steps: the median and range over the openings measured.</summary>
public sealed record RunOpenResult(int Steps, int Opens, double MedianSeconds, double MinSeconds, double MaxSeconds);

/// <summary>
/// Opening a long run's page: a run of each length (an external run, its steps posted through the API like a watcher's),
/// then, in a fresh browser page each time, the app booted on the run list and the run opened from inside it, as a
/// person clicking it; timed from the navigation until the loss chart holds every step (the page loads the run's whole
/// history, <c>GET /api/runs/{id}/metrics/columns</c> in pages of 10,000 steps, then draws it). The app's own start-up
/// (WebAssembly download and boot) is not in it. Nothing trains meanwhile.
/// </summary>
internal static class RunOpen
{
    private const string Key = "webllm-bench-run-open-key";

    public static async Task<List<RunOpenResult>> RunAsync(IReadOnlyList<int> lengths, int opens, Action<string> log)
    {
        string dir = Directory.CreateTempSubdirectory("webllm-run-open-").FullName;
        var results = new List<RunOpenResult>();
        try
        {
            await using var server = await BenchServer.StartAsync(dir, documents: 200, threads: "1", apiKey: Key, serverFolder: null,
                "--WebLlm:RateLimit:Burst=100000", "--WebLlm:RateLimit:PerSecond=100000");
            foreach (int steps in lengths)
            {
                int runId = await CreateRunAsync(server.Http, steps);
                var seconds = new List<double>();
                for (int i = 0; i < opens; i++)
                {
                    var page = await server.NewPageAsync();
                    await page.AddInitScriptAsync($"localStorage.setItem('webllm.apiKey', '{Key}')");
                    await page.GotoAsync(server.BaseUri.ToString());
                    await page.Locator("[data-testid=connection-status][data-state=Connected]").WaitForAsync(new() { Timeout = 120_000 });
                    var start = Stopwatch.GetTimestamp();
                    await page.EvaluateAsync($"Blazor.navigateTo('runs/{runId}')");
                    await page.WaitForFunctionAsync($"() => document.querySelector('[data-testid=chart-loss]')?.dataset.points === '{steps}'",
                        null, new() { Timeout = 300_000, PollingInterval = 20 });
                    seconds.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
                    await page.CloseAsync();
                }
                var r = new RunOpenResult(steps, seconds.Count, Stats.Median(seconds), seconds.Min(), seconds.Max());
                results.Add(r);
                log($"run page of a {steps:N0}-step run: median {r.MedianSeconds:F2} s over {r.Opens} openings ({r.MinSeconds:F2}–{r.MaxSeconds:F2})");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
        return results;
    }

    private static async Task<int> CreateRunAsync(HttpClient http, int steps)
    {
        var created = await http.PostAsJsonAsync(ApiRoutes.ExternalRuns, new CreateExternalRunRequest { Name = $"{steps} steps", Engine = "bench", MaxSteps = steps });
        created.EnsureSuccessStatusCode();
        int id = (await created.Content.ReadFromJsonAsync<RunDto>())!.Id;
        var random = new Random(steps);
        for (int from = 1; from <= steps; from += 1000)
        {
            var batch = Enumerable.Range(from, Math.Min(1000, steps - from + 1)).Select(s => new IngestStep(s,
                Loss: 4.5 * Math.Exp(-s / 8000.0) + 1.2 + random.NextDouble() * 0.2, LearningRate: 3e-4, GradNorm: 0.3 + random.NextDouble(),
                Milliseconds: 40 + random.NextDouble(), Mfu: 0.4, TokensPerSecond: 19_000 + random.NextDouble() * 1000, TokensSeen: s * 768L)).ToList();
            var posted = await http.PostAsJsonAsync(ApiRoutes.RunMetrics(id), new IngestMetricsRequest { Steps = batch });
            posted.EnsureSuccessStatusCode();
            var result = (await posted.Content.ReadFromJsonAsync<IngestResult>())!;
            if (result.AcceptedSteps != batch.Count) throw new InvalidOperationException($"the server took {result.AcceptedSteps} of {batch.Count} steps from {from}");
        }
        return id;
    }
}
