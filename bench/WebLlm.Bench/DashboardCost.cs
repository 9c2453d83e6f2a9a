using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using WebLlm.Contracts;
using WebLlm.Training.Benchmarks;

namespace WebLlm.Bench;

/// <summary>
/// One way of training the run, measured over the steady-state steps: median ms/step, and per second of wall time
/// in that window the CPU seconds of the server's training threads (the training thread and libtorch's OpenMP
/// workers), of the server's other threads (Kestrel, SignalR, SQLite writer, GC), and of the browser's processes;
/// null where there is no such process.
/// </summary>
public sealed record DashboardVariant(string Name, double MsPerStep, double? TrainingCpu, double? ServerCpu, double? BrowserCpu);

public sealed record DashboardCostResult(
    int Steps, int WarmupSteps, int Rounds, DashboardVariant Cli, DashboardVariant Server, DashboardVariant ServerWithBrowser, long LatestBrowserReadyStep)
{
    /// <summary>The target's figure: the server with a browser watching keeps this much of the CLI's tokens/s.</summary>
    public double Ratio => Cli.MsPerStep / ServerWithBrowser.MsPerStep;

    /// <summary>The server's own share: persisting and the hub, nobody watching.</summary>
    public double ServerRatio => Cli.MsPerStep / Server.MsPerStep;
}

/// <summary>
/// The same tiny run trained three ways: by the CLI, inside the server with every step persisted and pushed but
/// nobody watching, and inside the server with a real Chromium on the run page. A person watches a steady state,
/// so the browser boots, connects and renders the run page before the measured steps (WebAssembly download and
/// JIT are a one-off, not the dashboard's running cost), and only steps after <c>warmup</c> count, the same
/// steps for all three. Rounds alternate the three so drifting machine load hits each; medians over steps.
/// </summary>
internal static partial class DashboardCost
{
    private const int Documents = 20000, Batch = 12, CpuWindowMargin = 25;

    public static async Task<DashboardCostResult> RunAsync(Webllm cli, int steps, int warmup, int rounds, Action<string> log)
    {
        string dir = Directory.CreateTempSubdirectory("webllm-dashboard-cost-").FullName;
        string threads = Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture);
        cli.Run(["prepare", "--input", "builtin", "--tokenizer", "char", "--out", Path.Combine(dir, "data"), "--max-documents", $"{Documents}"]);

        var cliMs = new List<double>();
        var server = new Samples();
        var watched = new Samples();
        long latestReady = 0;
        for (int round = 0; round < rounds; round++)
        {
            var lines = cli.Run(["train", "--data", Path.Combine(dir, "data"), "--preset", "tiny", "--steps", $"{steps}", "--batch-size", $"{Batch}",
                "--eval-every", "0", "--sample-every", "0", "--checkpoint-every", "0", "--threads", threads, "--peak-flops", "1e11",
                "--out", Path.Combine(dir, $"cli-{round}")]);
            var roundCli = lines.Select(l => StepMs().Match(l)).Where(m => m.Success && int.Parse(m.Groups["step"].Value, CultureInfo.InvariantCulture) > warmup)
                .Select(m => double.Parse(m.Groups["ms"].Value, CultureInfo.InvariantCulture)).ToList();
            cliMs.AddRange(roundCli);
            var alone = await ServerRunAsync(Path.Combine(dir, $"server-{round}"), steps, warmup, threads, browser: false, log);
            server.Add(alone);
            var w = await ServerRunAsync(Path.Combine(dir, $"watched-{round}"), steps, warmup, threads, browser: true, log);
            watched.Add(w);
            latestReady = Math.Max(latestReady, w.ReadyStep);
            double c = Stats.Median(roundCli), s = Stats.Median(alone.Ms), b = Stats.Median(w.Ms);
            log($"dashboard cost round {round + 1}: CLI {c:F1} ms/step, server {s:F1} ({c / s:P1}), server + browser {b:F1} ({c / b:P1}); browser ready at step {w.ReadyStep}");
        }
        Directory.Delete(dir, recursive: true);
        return new DashboardCostResult(steps, warmup, rounds, new DashboardVariant("CLI", Stats.Median(cliMs), null, null, null),
            server.Variant("server, no browser"), watched.Variant("server + Chromium on the run page"), latestReady);
    }

    private sealed record ServerRound(List<double> Ms, double TrainingCpu, double ServerCpu, double? BrowserCpu, long ReadyStep);

    private sealed class Samples
    {
        public List<double> Ms { get; } = [];
        private readonly List<double> trainingCpu = [], serverCpu = [], browserCpu = [];

        public void Add(ServerRound r)
        {
            Ms.AddRange(r.Ms);
            trainingCpu.Add(r.TrainingCpu);
            serverCpu.Add(r.ServerCpu);
            if (r.BrowserCpu is double b) browserCpu.Add(b);
        }

        public DashboardVariant Variant(string name) =>
            new(name, Stats.Median(Ms), Stats.Median(trainingCpu), Stats.Median(serverCpu), browserCpu.Count > 0 ? Stats.Median(browserCpu) : null);
    }

    /// <summary>
    /// Where the browser's time goes while it watches a training run at steady state: one server run with Chromium
    /// on the run page; over <paramref name="seconds"/> the renderer's main-thread counters (Performance.getMetrics)
    /// and the CPU of every Chromium thread by name, then a trace of <paramref name="traceSeconds"/> whose events on
    /// the renderer's main thread are summed by name (written to <paramref name="outDir"/> for chrome://tracing).
    /// </summary>
    public static async Task ProfileAsync(string outDir, int seconds, int traceSeconds, Action<string> log)
    {
        string dir = Directory.CreateTempSubdirectory("webllm-dashboard-profile-").FullName;
        string threads = Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture);
        int steps = 400 + (seconds + traceSeconds + 20) * 25; // enough at ~19 steps/s, and a margin for slower machines
        await ServerRunAsync(Path.Combine(dir, "profiled"), steps, warmup: 200, threads, browser: true, log, async page =>
        {
            var cdp = await page.Context.NewCDPSessionAsync(page);
            await cdp.SendAsync("Performance.enable");
            var (metrics0, threads0, wall0) = (await PageMetricsAsync(cdp), BrowserThreadCpu(), Stopwatch.GetTimestamp());
            await Task.Delay(TimeSpan.FromSeconds(seconds));
            var (metrics1, threads1, wall) = (await PageMetricsAsync(cdp), BrowserThreadCpu(), Stopwatch.GetElapsedTime(wall0).TotalSeconds);
            log($"profile over {wall:F1} s (cores busy, i.e. seconds per second):");
            foreach (var name in new[] { "TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration" })
                log($"  renderer main thread {name}: {(metrics1.GetValueOrDefault(name) - metrics0.GetValueOrDefault(name)) / wall:F4}");
            foreach (var name in new[] { "LayoutCount", "RecalcStyleCount", "Nodes", "JSHeapUsedSize" })
                log($"  {name}: {metrics0.GetValueOrDefault(name):F0} -> {metrics1.GetValueOrDefault(name):F0}");
            foreach (var (thread, cpu) in threads1.Select(t => (t.Key, (t.Value - threads0.GetValueOrDefault(t.Key)) / wall)).Where(t => t.Item2 >= 0.0005).OrderByDescending(t => t.Item2))
                log($"  thread {thread}: {cpu:F4}");

            // Tracing over the page's own DevTools session (Playwright's browser tracing is gone): events arrive in chunks.
            var chunks = new List<string>();
            var complete = new TaskCompletionSource();
            cdp.Event("Tracing.dataCollected").OnEvent += (_, e) =>
            {
                foreach (var item in e!.Value.GetProperty("value").EnumerateArray()) chunks.Add(item.GetRawText());
            };
            cdp.Event("Tracing.tracingComplete").OnEvent += (_, _) => complete.TrySetResult();
            await cdp.SendAsync("Tracing.start", new Dictionary<string, object>
            {
                ["categories"] = "devtools.timeline,v8.execute,disabled-by-default-devtools.timeline,blink,cc,gpu,v8",
                ["transferMode"] = "ReportEvents",
            });
            await Task.Delay(TimeSpan.FromSeconds(traceSeconds));
            await cdp.SendAsync("Tracing.end");
            await complete.Task.WaitAsync(TimeSpan.FromMinutes(1));
            var trace = System.Text.Encoding.UTF8.GetBytes("[" + string.Join(",", chunks) + "]");
            string tracePath = Path.Combine(outDir, "dashboard-trace.json");
            await File.WriteAllBytesAsync(tracePath, trace);
            log($"trace of {traceSeconds} s written to {tracePath}; event time by thread and name (ms per second, nested events overlap):");
            foreach (var line in SummarizeTrace(trace, traceSeconds)) log("  " + line);

            // A sampling profile of the renderer's JavaScript and WebAssembly: self time by function.
            await cdp.SendAsync("Profiler.enable");
            await cdp.SendAsync("Profiler.setSamplingInterval", new Dictionary<string, object> { ["interval"] = 250 });
            await cdp.SendAsync("Profiler.start");
            await Task.Delay(TimeSpan.FromSeconds(traceSeconds));
            var profileAnswer = (await cdp.SendAsync("Profiler.stop"))!.Value.GetProperty("profile");
            await File.WriteAllTextAsync(Path.Combine(outDir, "dashboard.cpuprofile"), profileAnswer.GetRawText());
            var self = profileAnswer.GetProperty("nodes").EnumerateArray()
                .Select(n => (Name: n.GetProperty("callFrame").GetProperty("functionName").GetString() is { Length: > 0 } f ? f : "(anonymous)",
                    Url: Path.GetFileName(n.GetProperty("callFrame").GetProperty("url").GetString() ?? ""), Hits: n.TryGetProperty("hitCount", out var h) ? h.GetInt32() : 0))
                .GroupBy(n => $"{n.Name} {n.Url}").Select(g => (g.Key, Hits: g.Sum(n => n.Hits))).OrderByDescending(g => g.Hits).ToList();
            int total = self.Sum(g => g.Hits);
            log($"sampling profile of {traceSeconds} s, {total} samples; self time by function (ms per second):");
            foreach (var (name, hits) in self.Where(g => !g.Key.StartsWith("(idle)", StringComparison.Ordinal)).Take(40))
                log($"  {name}: {hits * 0.25 / traceSeconds:F2}");
        });
        Directory.Delete(dir, recursive: true);
    }

    private static async Task<Dictionary<string, double>> PageMetricsAsync(ICDPSession cdp)
    {
        var answer = await cdp.SendAsync("Performance.getMetrics");
        return answer!.Value.GetProperty("metrics").EnumerateArray()
            .ToDictionary(m => m.GetProperty("name").GetString()!, m => m.GetProperty("value").GetDouble());
    }

    /// <summary>CPU seconds so far of every thread of the Chromium processes this benchmark started, keyed "type/thread name".</summary>
    private static Dictionary<string, double> BrowserThreadCpu()
    {
        var result = new Dictionary<string, double>();
        foreach (var (pid, _) in OurBrowserProcesses())
        {
            var type = ProcessType(pid);
            foreach (var (_, t) in Stat($"/proc/{pid}/task"))
                result[$"{type}/{t.Name}"] = result.GetValueOrDefault($"{type}/{t.Name}") + t.Seconds;
        }
        return result;
    }

    /// <summary>Complete ("X") and begin/end trace events summed by thread and name; the top 40.</summary>
    private static IEnumerable<string> SummarizeTrace(byte[] trace, double seconds)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(trace);
        var root = doc.RootElement;
        var events = root.ValueKind == System.Text.Json.JsonValueKind.Array ? root : root.GetProperty("traceEvents");
        var threadNames = new Dictionary<(long, long), string>();
        var sums = new Dictionary<(long Pid, long Tid, string Name), (double Ms, int Count)>();
        var open = new Dictionary<(long, long, string), Stack<double>>();
        foreach (var e in events.EnumerateArray())
        {
            string ph = e.TryGetProperty("ph", out var p) ? p.GetString() ?? "" : "";
            long pid = e.TryGetProperty("pid", out var pp) ? pp.GetInt64() : 0, tid = e.TryGetProperty("tid", out var tt) ? tt.GetInt64() : 0;
            string name = e.TryGetProperty("name", out var n) ? n.GetString() ?? "" : "";
            if (ph == "M" && name == "thread_name") { threadNames[(pid, tid)] = e.GetProperty("args").GetProperty("name").GetString() ?? ""; continue; }
            double ts = e.TryGetProperty("ts", out var t) && t.ValueKind == System.Text.Json.JsonValueKind.Number ? t.GetDouble() : 0;
            double? ms = null;
            if (ph == "X" && e.TryGetProperty("dur", out var d)) ms = d.GetDouble() / 1000;
            else if (ph == "B") { (open.TryGetValue((pid, tid, name), out var s) ? s : open[(pid, tid, name)] = new()).Push(ts); }
            else if (ph == "E" && open.TryGetValue((pid, tid, name), out var s) && s.Count > 0) ms = (ts - s.Pop()) / 1000;
            if (ms is double m)
            {
                var key = (pid, tid, name);
                var (sum, count) = sums.GetValueOrDefault(key);
                sums[key] = (sum + m, count + 1);
            }
        }
        return sums.OrderByDescending(s => s.Value.Ms).Take(40).Select(s =>
            $"{threadNames.GetValueOrDefault((s.Key.Pid, s.Key.Tid), s.Key.Tid.ToString(CultureInfo.InvariantCulture))} {s.Key.Name}: {s.Value.Ms / seconds:F2} ms/s, {s.Value.Count / seconds:F1}/s");
    }

    private static async Task<ServerRound> ServerRunAsync(string dataDir, int steps, int warmup, string threads, bool browser, Action<string> log,
        Func<IPage, Task>? profile = null)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "WebLlm.Server.dll"), "--urls", "http://127.0.0.1:0",
                     $"--WebLlm:DataDirectory={dataDir}", $"--WebLlm:BuiltinMaxDocuments={Documents}", $"--WebLlm:Threads={threads}", "--WebLlm:PeakFlops=1e11" })
            start.ArgumentList.Add(a);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        using var server = Process.Start(start)!;
        var listening = new TaskCompletionSource<Uri>();
        server.OutputDataReceived += (_, e) => { if (e.Data is { } l && Listening().Match(l) is { Success: true } m) listening.TrySetResult(new Uri(m.Groups["url"].Value)); };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        IPlaywright? playwright = null;
        IBrowser? chromium = null;
        try
        {
            var baseUri = await listening.Task.WaitAsync(TimeSpan.FromMinutes(1));
            using var http = new HttpClient { BaseAddress = baseUri };
            while ((await http.GetFromJsonAsync<List<DatasetDto>>(ApiRoutes.Datasets))!.FirstOrDefault() is not { Status: DatasetStatus.Ready })
                await Task.Delay(200);

            IPage? page = null;
            if (browser)
            {
                playwright = await Playwright.CreateAsync();
                chromium = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
                {
                    ExecutablePath = "/usr/bin/chromium", Headless = true,
                    Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
                });
                page = await chromium.NewPageAsync();
                // Boot the app (download, WebAssembly start, hub connection) before the run exists.
                await page.GotoAsync(baseUri.ToString());
                await page.Locator("[data-testid=connection-status][data-state=Connected]").WaitForAsync(new() { Timeout = 120_000 });
            }
            var create = await http.PostAsJsonAsync(ApiRoutes.Runs, new CreateRunRequest
            {
                Preset = "tiny", MaxSteps = steps, BatchSize = Batch, EvalEvery = 0, SampleEvery = 0, CheckpointEvery = 0, Name = "dashboard-cost",
            });
            var run = (await create.Content.ReadFromJsonAsync<RunDto>())!;
            long readyStep = 0;
            if (page is not null)
            {
                // In-app navigation, as a person clicking the run in the list: the booted app stays.
                await page.EvaluateAsync("url => Blazor.navigateTo(url)", $"/runs/{run.Id}");
                await page.WaitForFunctionAsync("() => Number(document.querySelector('[data-testid=chart-loss]')?.dataset.points ?? 0) > 0",
                    null, new() { Timeout = 120_000, PollingInterval = 100 });
                readyStep = (await http.GetFromJsonAsync<RunDto>(ApiRoutes.Run(run.Id)))!.CurrentStep;
            }
            // Same steps as the CLI's unless the browser was late; then from 20 steps after it rendered.
            long from = Math.Max(warmup, readyStep + 20);
            if (from > warmup) log($"warning: the browser rendered the run page at step {readyStep}, after the warm-up of {warmup} steps");
            await WaitForStepAsync(http, run.Id, from);
            if (profile is not null)
            {
                await profile(page!);
                return new ServerRound([], 0, 0, null, readyStep);
            }
            var (threads0, browser0, wall0) = (Stat($"/proc/{server.Id}/task"), BrowserCpu(), Stopwatch.GetTimestamp());
            // The CPU window closes a little before the last step: the training thread and its OpenMP workers exit
            // right after it, and their CPU time leaves /proc with them.
            await WaitForStepAsync(http, run.Id, steps - CpuWindowMargin);
            var (threads1, browser1, wall) = (Stat($"/proc/{server.Id}/task"), BrowserCpu(), Stopwatch.GetElapsedTime(wall0).TotalSeconds);
            while ((await http.GetFromJsonAsync<RunDto>(ApiRoutes.Run(run.Id)))!.Status is RunStatus.Queued or RunStatus.Running)
                await Task.Delay(200);
            var metrics = (await http.GetFromJsonAsync<MetricsPage>(ApiRoutes.RunMetrics(run.Id)))!;
            var ms = metrics.Steps.Where(s => s.Step > from && s.Milliseconds is not null).Select(s => s.Milliseconds!.Value).ToList();
            // Per thread, over the threads alive at the end (one that exited took its time with it): the training
            // thread and libtorch's OpenMP workers, which inherit its name, against all the others.
            var used = threads1.Select(t => (Training: t.Value.Name == "WebLlm training", Seconds: t.Value.Seconds - (threads0.TryGetValue(t.Key, out var before) ? before.Seconds : 0))).ToList();
            double trainingCpu = used.Where(t => t.Training).Sum(t => t.Seconds) / wall, serverCpu = used.Where(t => !t.Training).Sum(t => t.Seconds) / wall;
            var byType = browser1.ToDictionary(t => t.Key, t => (t.Value - browser0.GetValueOrDefault(t.Key)) / wall);
            double? browserCpu = browser ? byType.Values.Sum() : null;
            log($"server run {run.Id}{(browser ? $" with {page!.Url}" : "")}: {metrics.Steps.Count} steps stored, median {Stats.Median(ms):F1} ms/step after step {from}; " +
                $"CPU cores busy: training threads {trainingCpu:F2}, other server threads {serverCpu:F2}" + (browserCpu is double b ? $", Chromium {b:F2} ({string.Join(", ", byType.OrderByDescending(t => t.Value).Select(t => $"{t.Key} {t.Value:F2}"))})" : ""));
            return new ServerRound(ms, trainingCpu, serverCpu, browserCpu, readyStep);
        }
        finally
        {
            if (chromium is not null) await chromium.DisposeAsync();
            playwright?.Dispose();
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
        }
    }

    /// <summary>
    /// Waits until the run has trained <paramref name="step"/> steps: sleeps most of the expected time, then
    /// polls, so the window's edges are sharp without the polling itself loading the server.
    /// </summary>
    private static async Task WaitForStepAsync(HttpClient http, int runId, long step)
    {
        while (true)
        {
            var run = (await http.GetFromJsonAsync<RunDto>(ApiRoutes.Run(runId)))!;
            if (run.CurrentStep >= step || run.Status is not (RunStatus.Queued or RunStatus.Running)) return;
            double msPerStep = run.TokensPerSecond is > 0 and double tps ? Batch * 64 * 1000 / tps : 50;
            double wait = (step - run.CurrentStep) * msPerStep * 0.8;
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Clamp(wait, 20, 2000)));
        }
    }

    /// <summary>CPU seconds used so far by the Chromium processes this benchmark started, by process type.</summary>
    private static Dictionary<string, double> BrowserCpu() =>
        OurBrowserProcesses().GroupBy(p => ProcessType(p.Pid)).ToDictionary(g => g.Key, g => g.Sum(p => p.Seconds));

    /// <summary>The Chromium processes this benchmark started (never other people's) and their CPU seconds so far.</summary>
    private static List<(int Pid, double Seconds)> OurBrowserProcesses()
    {
        var processes = Stat("/proc");
        bool Ours(int pid)
        {
            for (int p = pid, hops = 0; p > 1 && hops < 64; hops++)
            {
                if (p == Environment.ProcessId) return true;
                if (!processes.TryGetValue(p, out var info)) return false;
                p = info.Parent;
            }
            return false;
        }
        return processes.Where(p => p.Value.Name.Contains("chrom", StringComparison.OrdinalIgnoreCase) && Ours(p.Key)).Select(p => (p.Key, p.Value.Seconds)).ToList();
    }

    /// <summary>Chromium's --type (renderer, gpu-process, utility…); the browser process has none.</summary>
    private static string ProcessType(int pid)
    {
        try
        {
            // NUL-separated, except that Chromium's child processes rewrite theirs with spaces.
            var type = File.ReadAllText($"/proc/{pid}/cmdline").Split(['\0', ' ']).FirstOrDefault(a => a.StartsWith("--type=", StringComparison.Ordinal));
            return type?["--type=".Length..] ?? "browser";
        }
        catch (IOException)
        {
            return "exited";
        }
    }

    /// <summary>Name, parent and CPU seconds (user + system) of every process (or thread) listed in a /proc folder.</summary>
    private static Dictionary<int, (string Name, int Parent, double Seconds)> Stat(string folder)
    {
        var result = new Dictionary<int, (string, int, double)>();
        foreach (var dir in Directory.EnumerateDirectories(folder))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            string stat;
            try { stat = File.ReadAllText(Path.Combine(dir, "stat")); }
            catch (IOException) { continue; } // exited meanwhile
            int open = stat.IndexOf('('), close = stat.LastIndexOf(')');
            var fields = stat[(close + 2)..].Split(' '); // from field 3 (state) on
            double ticks = double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture);
            result[pid] = (stat[(open + 1)..close], int.Parse(fields[1], CultureInfo.InvariantCulture), ticks / ClockTicksPerSecond);
        }
        return result;
    }

    /// <summary>USER_HZ: the unit of /proc/[pid]/stat's times, 100 on every Linux this runs on.</summary>
    private const double ClockTicksPerSecond = 100;

    [GeneratedRegex(@"^step\s+(?<step>\d+)/\d+ \| .* \| (?<ms>[\d.]+) ms \|")]
    private static partial Regex StepMs();

    [GeneratedRegex(@"Now listening on: (?<url>http://\S+)")]
    private static partial Regex Listening();
}
