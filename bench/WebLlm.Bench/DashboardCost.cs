using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using WebLlm.Contracts;
using WebLlm.Training.Benchmarks;

namespace WebLlm.Bench;

public sealed record DashboardCostResult(int Steps, double CliMsPerStep, double ServerMsPerStep, double Ratio, int Rounds);

/// <summary>
/// The same tiny run trained by the CLI and inside the server with every step persisted and a real browser on
/// the run page: the server keeps Ratio (CLI ms / server ms) of the CLI's speed. Rounds alternate the two so
/// drifting machine load hits both; medians over steps after a warm-up.
/// </summary>
internal static partial class DashboardCost
{
    public static async Task<DashboardCostResult> RunAsync(Webllm cli, int steps, int rounds, Action<string> log)
    {
        string dir = Directory.CreateTempSubdirectory("webllm-dashboard-cost-").FullName;
        const int Documents = 20000, Batch = 12;
        string threads = Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture);
        cli.Run(["prepare", "--input", "builtin", "--tokenizer", "char", "--out", Path.Combine(dir, "data"), "--max-documents", $"{Documents}"]);

        var cliMs = new List<double>();
        var serverMs = new List<double>();
        for (int round = 0; round < rounds; round++)
        {
            var lines = cli.Run(["train", "--data", Path.Combine(dir, "data"), "--preset", "tiny", "--steps", $"{steps}", "--batch-size", $"{Batch}",
                "--eval-every", "0", "--sample-every", "0", "--checkpoint-every", "0", "--threads", threads, "--peak-flops", "1e11",
                "--out", Path.Combine(dir, $"cli-{round}")]);
            cliMs.AddRange(lines.Select(l => StepMs().Match(l)).Where(m => m.Success && int.Parse(m.Groups["step"].Value) > 5)
                .Select(m => double.Parse(m.Groups["ms"].Value, System.Globalization.CultureInfo.InvariantCulture)));
            serverMs.AddRange(await ServerRunAsync(Path.Combine(dir, $"server-{round}"), steps, Batch, Documents, threads, log));
            log($"dashboard cost round {round + 1}: CLI median {Stats.Median(cliMs):F1} ms/step, server {Stats.Median(serverMs):F1} ms/step");
        }
        Directory.Delete(dir, recursive: true);
        double c = Stats.Median(cliMs), s = Stats.Median(serverMs);
        return new DashboardCostResult(steps, c, s, c / s, rounds);
    }

    private static async Task<List<double>> ServerRunAsync(string dataDir, int steps, int batch, int documents, string threads, Action<string> log)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "WebLlm.Server.dll"), "--urls", "http://127.0.0.1:0",
                     $"--WebLlm:DataDirectory={dataDir}", $"--WebLlm:BuiltinMaxDocuments={documents}", $"--WebLlm:Threads={threads}", "--WebLlm:PeakFlops=1e11" })
            start.ArgumentList.Add(a);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        using var server = Process.Start(start)!;
        var listening = new TaskCompletionSource<Uri>();
        server.OutputDataReceived += (_, e) => { if (e.Data is { } l && Listening().Match(l) is { Success: true } m) listening.TrySetResult(new Uri(m.Groups["url"].Value)); };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            var baseUri = await listening.Task.WaitAsync(TimeSpan.FromMinutes(1));
            using var http = new HttpClient { BaseAddress = baseUri };
            while ((await http.GetFromJsonAsync<List<DatasetDto>>(ApiRoutes.Datasets))!.FirstOrDefault() is not { Status: DatasetStatus.Ready })
                await Task.Delay(200);

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = "/usr/bin/chromium", Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
            });
            var create = await http.PostAsJsonAsync(ApiRoutes.Runs, new CreateRunRequest
            {
                Preset = "tiny", MaxSteps = steps, BatchSize = batch, EvalEvery = 0, SampleEvery = 0, CheckpointEvery = 0, Name = "dashboard-cost",
            });
            var run = (await create.Content.ReadFromJsonAsync<RunDto>())!;
            var page = await browser.NewPageAsync();
            await page.GotoAsync(new Uri(baseUri, $"/runs/{run.Id}").ToString());
            while ((await http.GetFromJsonAsync<RunDto>(ApiRoutes.Run(run.Id)))!.Status is RunStatus.Queued or RunStatus.Running)
                await Task.Delay(500);
            var metrics = (await http.GetFromJsonAsync<MetricsPage>(ApiRoutes.RunMetrics(run.Id)))!;
            log($"server run {run.Id}: {metrics.Steps.Count} steps stored, browser on {page.Url}");
            return metrics.Steps.Where(s => s.Step > 5 && s.Milliseconds is not null).Select(s => s.Milliseconds!.Value).ToList();
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
        }
    }

    [GeneratedRegex(@"^step\s+(?<step>\d+)/\d+ \| .* \| (?<ms>[\d.]+) ms \|")]
    private static partial Regex StepMs();

    [GeneratedRegex(@"Now listening on: (?<url>http://\S+)")]
    private static partial Regex Listening();
}
