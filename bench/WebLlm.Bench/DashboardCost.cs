using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using WebLlm.Contracts;
using WebLlm.Training.Benchmarks;

namespace WebLlm.Bench;

/// <summary>
/// One way of training the run, measured over the steady-state steps: median ms/step, and per second of wall time
/// in those steps' windows the CPU seconds of the server's training threads (the training thread and libtorch's
/// OpenMP workers), of the server's other threads (Kestrel, SignalR, SQLite writer, GC), and of the browser's
/// processes; null where there is no such process.
/// </summary>
public sealed record DashboardVariant(string Name, double MsPerStep, double? TrainingCpu, double? ServerCpu, double? BrowserCpu);

/// <summary>One round's medians (ms/step): the CLI's windows and the server's, watched and paused, taking turns.</summary>
public sealed record DashboardRound(int Round, double Cli, double Server, double ServerWithBrowser)
{
    public double Ratio => Cli / ServerWithBrowser;
    public double ServerRatio => Cli / Server;

    /// <summary>The browser's own cost, measured within one run: watched steps against paused ones.</summary>
    public double BrowserRatio => Server / ServerWithBrowser;
}

public sealed record DashboardCostResult(
    int Steps, int WarmupSteps, int Rounds, int WindowSteps, DashboardVariant Cli, DashboardVariant Server, DashboardVariant ServerWithBrowser,
    long LatestBrowserReadyStep, IReadOnlyList<DashboardRound> PerRound)
{
    /// <summary>The target's figure: the server with a browser watching keeps this much of the CLI's tokens/s.</summary>
    public double Ratio => Cli.MsPerStep / ServerWithBrowser.MsPerStep;

    /// <summary>The server's own share: persisting and the hub, the browser paused.</summary>
    public double ServerRatio => Cli.MsPerStep / Server.MsPerStep;

    /// <summary>The browser's share, within the same runs.</summary>
    public double BrowserRatio => Server.MsPerStep / ServerWithBrowser.MsPerStep;

    /// <summary>The target's figure from the rounds: the median of each round's own ratio, so one slow round moves it little.</summary>
    public double RoundRatio => Stats.Median(PerRound.Select(r => r.Ratio).ToList());

    public double RoundServerRatio => Stats.Median(PerRound.Select(r => r.ServerRatio).ToList());

    public double RoundBrowserRatio => Stats.Median(PerRound.Select(r => r.BrowserRatio).ToList());
}

/// <summary>
/// The same tiny run trained by the CLI and inside the server with every step persisted and pushed to a real
/// Chromium on the run page. A person watches a steady state, so the browser boots, connects and renders the run
/// page before the measured steps (WebAssembly download and JIT are a one-off, not the dashboard's running cost),
/// and only steps after <c>warmup</c> count. This VM's speed drifts by several percent from one minute to the next,
/// more than what is measured, so in each round the CLI and the server train side by side and take turns: while one
/// trains the other is stopped (SIGSTOP: no CPU at all), in windows of 150 steps (50 in a <c>--quick</c> run) that go
/// CLI, server watched, server with the browser paused (as if nobody watched), and again; each window's first
/// <see cref="ToggleMargin"/> steps are left out (see <see cref="InterleavedRunAsync"/>). Medians over steps, pooled
/// and per round.
/// </summary>
internal static partial class DashboardCost
{
    private const int Documents = 20000, Batch = 12, ToggleMargin = 25;
    // Both runs are stopped long before this: the step count only sets the learning-rate schedule, the same for both.
    private const int InterleavedSteps = 100_000;
    private const int SigStop = 19, SigCont = 18; // Linux x86-64 and arm64
    private static readonly string[] VariantNames = ["CLI", "server, browser paused", "server + Chromium on the run page"];

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);

    public static async Task<DashboardCostResult> RunAsync(Webllm cli, int steps, int warmup, int rounds, Action<string> log)
    {
        string dir = Directory.CreateTempSubdirectory("webllm-dashboard-cost-").FullName;
        string threads = Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture);
        cli.Run(["prepare", "--input", "builtin", "--tokenizer", "char", "--out", Path.Combine(dir, "data"), "--max-documents", $"{Documents}"]);

        var cliMs = new List<double>();
        var paused = new Samples();
        var watched = new Samples();
        long latestReady = 0;
        var perRound = new List<DashboardRound>();
        // Each kind gets (steps - warmup) steps a round, in windows of equal length.
        int windowSteps = Math.Clamp((steps - warmup) / 4, 50, 150), windowsPerKind = Math.Max(1, (steps - warmup) / windowSteps);
        for (int round = 0; round < rounds; round++)
        {
            var run = await InterleavedRunAsync(cli, Path.Combine(dir, "data"), Path.Combine(dir, $"server-{round}"), Path.Combine(dir, $"cli-{round}"),
                warmup, windowSteps, windowsPerKind, threads, log);
            cliMs.AddRange(run.Cli);
            paused.Add(run.Paused);
            watched.Add(run.Watching);
            latestReady = Math.Max(latestReady, run.ReadyStep);
            var r = new DashboardRound(round + 1, Stats.Median(run.Cli), Stats.Median(run.Paused.Ms), Stats.Median(run.Watching.Ms));
            perRound.Add(r);
            log($"dashboard cost round {r.Round}: CLI {r.Cli:F1} ms/step, server with the browser paused {r.Server:F1} ({r.ServerRatio:P1}), " +
                $"watched {r.ServerWithBrowser:F1} ({r.Ratio:P1}; the browser's own share {r.BrowserRatio:P1}); browser ready at step {run.ReadyStep}");
        }
        Directory.Delete(dir, recursive: true);
        return new DashboardCostResult(steps, warmup, rounds, windowSteps, new DashboardVariant(VariantNames[0], Stats.Median(cliMs), null, null, null),
            paused.Variant(VariantNames[1]), watched.Variant(VariantNames[2]), latestReady, perRound);
    }

    /// <summary>Steps and CPU of one state (watched or paused) over its windows of a server run.</summary>
    private sealed record Phase(List<double> Ms, double TrainingCpu, double ServerCpu, double BrowserCpu);

    private sealed record InterleavedRun(List<double> Cli, Phase Watching, Phase Paused, long ReadyStep);

    private sealed class Samples
    {
        public List<double> Ms { get; } = [];
        private readonly List<double> trainingCpu = [], serverCpu = [], browserCpu = [];

        public void Add(Phase p)
        {
            Ms.AddRange(p.Ms);
            trainingCpu.Add(p.TrainingCpu);
            serverCpu.Add(p.ServerCpu);
            browserCpu.Add(p.BrowserCpu);
        }

        public DashboardVariant Variant(string name) =>
            new(name, Stats.Median(Ms), Stats.Median(trainingCpu), Stats.Median(serverCpu), Stats.Median(browserCpu));
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
        var watched = await WatchedRunAsync(Path.Combine(dir, "profiled"), steps, warmup: 200, threads, log);
        await using (watched.Bench)
        {
            var page = watched.Page;
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
        }
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

    private sealed record WatchedRun(BenchServer Bench, IPage Page, int RunId, long ReadyStep);

    /// <summary>
    /// A server with Chromium on the page of a new run, past its warm-up. The browser boots the app and connects before
    /// the run exists and then navigates to it inside the app, as a person clicking the run in the list.
    /// </summary>
    private static async Task<WatchedRun> WatchedRunAsync(string dataDir, int steps, int warmup, string threads, Action<string> log)
    {
        var bench = await BenchServer.StartAsync(dataDir, Documents, threads);
        try
        {
            var (http, baseUri) = (bench.Http, bench.BaseUri);
            var page = await bench.NewPageAsync();
            await page.GotoAsync(baseUri.ToString());
            await page.Locator("[data-testid=connection-status][data-state=Connected]").WaitForAsync(new() { Timeout = 120_000 });
            var create = await http.PostAsJsonAsync(ApiRoutes.Runs, new CreateRunRequest
            {
                Preset = "tiny", MaxSteps = steps, BatchSize = Batch, EvalEvery = 0, SampleEvery = 0, CheckpointEvery = 0, Name = "dashboard-cost",
            });
            var run = (await create.Content.ReadFromJsonAsync<RunDto>())!;
            await page.EvaluateAsync("url => Blazor.navigateTo(url)", $"/runs/{run.Id}");
            await page.WaitForFunctionAsync("() => Number(document.querySelector('[data-testid=chart-loss]')?.dataset.points ?? 0) > 0",
                null, new() { Timeout = 120_000, PollingInterval = 100 });
            long readyStep = (await http.GetFromJsonAsync<RunDto>(ApiRoutes.Run(run.Id)))!.CurrentStep;
            long from = Math.Max(warmup, readyStep + 20);
            if (from > warmup) log($"warning: the browser rendered the run page at step {readyStep}, after the warm-up of {warmup} steps");
            await WaitForStepAsync(http, run.Id, from);
            return new WatchedRun(bench, page, run.Id, readyStep);
        }
        catch
        {
            await bench.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// One round: a server run with Chromium on its run page and the same run in the CLI, taking turns on the machine.
    /// While one trains, the other (and the browser, unless it is watching) is stopped with SIGSTOP and uses no CPU at
    /// all, so the CLI's windows and the server's, watched and paused, are seconds apart and see the same machine; the
    /// runs used to be minutes apart, and this VM's speed moved the CLI alone by 15% between rounds. Windows go CLI,
    /// server watched, server with the browser paused, and again; each window's first <see cref="ToggleMargin"/> steps
    /// (caches warmed by the other process, a step that spans a stop, the stored step trailing the training by up to
    /// the writer's one-second gather) are left out.
    /// </summary>
    private static async Task<InterleavedRun> InterleavedRunAsync(Webllm cli, string data, string serverDir, string cliDir, int warmup, int windowSteps,
        int windowsPerKind, string threads, Action<string> log)
    {
        var watched = await WatchedRunAsync(serverDir, InterleavedSteps, warmup, threads, log);
        await using var bench = watched.Bench;
        var (server, http, runId) = (bench.Process, bench.Http, watched.RunId);
        static void Signal(IEnumerable<int> pids, int signal) { foreach (int pid in pids) Kill(pid, signal); }
        IEnumerable<int> Browser() => OurBrowserProcesses().Select(p => p.Pid);
        // The server and its browser wait while the CLI starts and warms up.
        Signal([server.Id], SigStop);
        Signal(Browser(), SigStop);
        var cliSteps = new CliSteps();
        using var trainer = cli.Start(["train", "--data", data, "--preset", "tiny", "--steps", $"{InterleavedSteps}", "--batch-size", $"{Batch}",
            "--eval-every", "0", "--sample-every", "0", "--checkpoint-every", "0", "--threads", threads, "--peak-flops", "1e11", "--out", cliDir], cliSteps.Add);
        try
        {
            await cliSteps.WaitForAsync(warmup);
            Signal([trainer.Id], SigStop);
            var cliWindows = new List<(long From, long To)>();
            var windows = new List<(bool Watching, long From, long To, double Training, double Server, double Browser, double Wall)>();
            for (int i = 0; i < 3 * windowsPerKind; i++)
            {
                if (i % 3 == 0)
                {
                    long cliFrom = cliSteps.Last;
                    Signal([trainer.Id], SigCont);
                    await cliSteps.WaitForAsync(cliFrom + windowSteps);
                    Signal([trainer.Id], SigStop);
                    cliWindows.Add((cliFrom, cliSteps.Last));
                    continue;
                }
                bool watching = i % 3 == 1;
                Signal([server.Id], SigCont);
                if (watching) Signal(Browser(), SigCont);
                var (threads0, browser0, wall0) = (Stat($"/proc/{server.Id}/task"), BrowserCpu(), Stopwatch.GetTimestamp());
                long from = (await http.GetFromJsonAsync<RunDto>(ApiRoutes.Run(runId)))!.CurrentStep;
                long to = await WaitForStepAsync(http, runId, from + windowSteps);
                var (threads1, browser1, wall1) = (Stat($"/proc/{server.Id}/task"), BrowserCpu(), Stopwatch.GetTimestamp());
                Signal([server.Id], SigStop);
                if (watching) Signal(Browser(), SigStop);
                // Per thread: the training thread and libtorch's OpenMP workers, which inherit its name, against all the others.
                var used = threads1.Select(t => (Training: t.Value.Name == "WebLlm training", Seconds: t.Value.Seconds - (threads0.TryGetValue(t.Key, out var before) ? before.Seconds : 0))).ToList();
                windows.Add((watching, from, to, used.Where(t => t.Training).Sum(t => t.Seconds), used.Where(t => !t.Training).Sum(t => t.Seconds),
                    browser1.Sum(t => t.Value - browser0.GetValueOrDefault(t.Key)), Stopwatch.GetElapsedTime(wall0, wall1).TotalSeconds));
            }
            trainer.Kill(entireProcessTree: true);
            Signal([server.Id], SigCont);
            Signal(Browser(), SigCont);
            var ms = (await http.GetFromJsonAsync<MetricsPage>(ApiRoutes.RunMetrics(runId)))!.Steps
                .Where(s => s.Milliseconds is not null).ToDictionary(s => s.Step, s => s.Milliseconds!.Value);
            static IEnumerable<long> Counted(long from, long to) => Enumerable.Range(0, (int)Math.Max(0, to - from - ToggleMargin)).Select(i => from + ToggleMargin + 1 + i);
            Phase Measure(bool state)
            {
                var mine = windows.Where(w => w.Watching == state).ToList();
                double wall = mine.Sum(w => w.Wall);
                var stepMs = mine.SelectMany(w => Counted(w.From, w.To)).Where(ms.ContainsKey).Select(s => ms[s]).ToList();
                return new Phase(stepMs, mine.Sum(w => w.Training) / wall, mine.Sum(w => w.Server) / wall, mine.Sum(w => w.Browser) / wall);
            }
            var (on, off) = (Measure(true), Measure(false));
            var cliMs = cliWindows.SelectMany(w => Counted(w.From, w.To)).Select(cliSteps.Ms).OfType<double>().ToList();
            log($"interleaved run {runId} with {watched.Page.Url}: {cliWindows.Count} CLI windows, median {Stats.Median(cliMs):F1} ms/step; {windows.Count} server windows, " +
                $"median ms/step watched {Stats.Median(on.Ms):F1}, paused {Stats.Median(off.Ms):F1}; CPU cores busy watched / paused: training threads " +
                $"{on.TrainingCpu:F2} / {off.TrainingCpu:F2}, other server threads {on.ServerCpu:F2} / {off.ServerCpu:F2}, Chromium {on.BrowserCpu:F2} / {off.BrowserCpu:F2}");
            return new InterleavedRun(cliMs, on, off, watched.ReadyStep);
        }
        finally
        {
            if (!trainer.HasExited) trainer.Kill(entireProcessTree: true);
            Signal([server.Id], SigCont);
            Signal(Browser(), SigCont);
        }
    }

    /// <summary>The CLI's step lines as they are printed: each step's ms, and a wait for a step to be reached.</summary>
    private sealed class CliSteps
    {
        private readonly Dictionary<long, double> ms = [];
        private readonly object gate = new();
        private long last;
        private (long Step, TaskCompletionSource Reached)? waiting;

        public long Last { get { lock (gate) return last; } }

        public double? Ms(long step) { lock (gate) return ms.TryGetValue(step, out var m) ? m : null; }

        public void Add(string line)
        {
            if (StepMs().Match(line) is not { Success: true } m) return;
            lock (gate)
            {
                last = long.Parse(m.Groups["step"].Value, CultureInfo.InvariantCulture);
                ms[last] = double.Parse(m.Groups["ms"].Value, CultureInfo.InvariantCulture);
                if (waiting is { } w && last >= w.Step) w.Reached.TrySetResult();
            }
        }

        /// <summary>Waits, without polling, until the CLI has printed <paramref name="step"/> (it cannot take 5 minutes).</summary>
        public Task WaitForAsync(long step)
        {
            lock (gate)
            {
                if (last >= step) return Task.CompletedTask;
                var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                waiting = (step, reached);
                return reached.Task.WaitAsync(TimeSpan.FromMinutes(5));
            }
        }
    }

    /// <summary>
    /// Waits until the run has trained <paramref name="step"/> steps and returns the step it reached: sleeps most of
    /// the expected time, then polls, at most 4 times a second. The stored step moves once a second (the writer's
    /// gather), so faster polling sharpens nothing: at 20 ms it made up to 50 requests per window edge, and this
    /// process and the server's request handling used more CPU than the browser did (0.02-0.07 cores for the bench alone).
    /// </summary>
    private static async Task<long> WaitForStepAsync(HttpClient http, int runId, long step)
    {
        while (true)
        {
            var run = (await http.GetFromJsonAsync<RunDto>(ApiRoutes.Run(runId)))!;
            if (run.CurrentStep >= step || run.Status is not (RunStatus.Queued or RunStatus.Running)) return run.CurrentStep;
            double msPerStep = run.TokensPerSecond is > 0 and double tps ? Batch * 64 * 1000 / tps : 50;
            double wait = (step - run.CurrentStep) * msPerStep * 0.8;
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Clamp(wait, 250, 2000)));
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
}
