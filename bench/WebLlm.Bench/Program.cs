using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using WebLlm.Bench;
using WebLlm.Training.Benchmarks;

// The performance suite behind docs/PERFORMANCE.md: every number is measured here, in one run, next to the
// machine's own ceilings (matrix product for training, memory bandwidth for decoding), and plotted.
//   dotnet run --project bench/WebLlm.Bench -c Release -- [--quick] [--out docs/perf]
WebLlm.Training.NativeAllocator.Tune(); // the in-process measurements (memory growth) train as the CLI and server do
bool quick = args.Contains("--quick");
int onlyAt = Array.IndexOf(args, "--only");
string? only = onlyAt >= 0 && onlyAt + 1 < args.Length ? args[onlyAt + 1] : null; // training | inference | tokenizer | memory | dashboard | charts | first-load | dashboard-profile
bool Run(string section) => only is null || only == section;
int outAt = Array.IndexOf(args, "--out");
string outDir = Path.GetFullPath(outAt >= 0 && outAt + 1 < args.Length ? args[outAt + 1] : Path.Combine("docs", "perf"));
Directory.CreateDirectory(outDir);
var report = new Report(outDir);
var cli = new Webllm();

// Not part of the suite: where a watching browser's time goes (a diagnosis, not a result to keep).
if (only == "dashboard-profile")
{
    int secondsAt = Array.IndexOf(args, "--seconds"); // a longer window for comparing two builds' browser CPU
    int seconds = secondsAt >= 0 && secondsAt + 1 < args.Length ? int.Parse(args[secondsAt + 1], CultureInfo.InvariantCulture) : 20;
    await DashboardCost.ProfileAsync(outDir, seconds, traceSeconds: 10, Console.WriteLine);
    return;
}

report.Line($"# Benchmark run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
// The CPU's model: the same "2 cores" measured 211 GFLOP/s one week and 165-186 the next (docs/PERFORMANCE.md).
string cpu = File.Exists("/proc/cpuinfo")
    ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?"
    : System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
report.Line($"machine: {Environment.ProcessorCount} cores ({cpu}), {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1e9:F0} GB, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
report.Line("");

// 1. Training: model size at batch 4, context 64; the two targets; batch scaling.
List<TrainingBenchResult> bySize = [], tinyByBatch = [], gpt2ByBatch = [];
TrainingBenchResult? tinyTarget = null;
if (Run("training"))
{
string[] presets = quick ? ["tiny", "baby", "gpt2"] : ["tiny", "baby", "gpt2", "gpt2-medium"];
bySize = presets.Select(p => cli.Train(p, batch: 4, block: 64, steps: p.StartsWith("gpt2", StringComparison.Ordinal) ? 4 : 8)).ToList();
tinyTarget = cli.Train("tiny", batch: 12, block: 64, steps: 10);
int[] tinyBatches = quick ? [1, 4, 12] : [1, 2, 4, 8, 12, 16];
int[] gpt2Batches = quick ? [1, 4] : [1, 2, 4, 8];
tinyByBatch = tinyBatches.Select(b => b == 12 ? tinyTarget : cli.Train("tiny", b, 64, 8)).ToList();
gpt2ByBatch = gpt2Batches.Select(b => b == 4 ? bySize.First(r => r.Preset == "gpt2") : cli.Train("gpt2", b, 64, 4)).ToList();

report.Training("Training by model size (batch 4, context 64)", bySize);
report.Training("Training by batch size", [.. tinyByBatch, .. gpt2ByBatch]);
report.Phases(bySize.Append(tinyTarget).ToList());
Charts.Size(Path.Combine(outDir, "training-by-size.png"), bySize);
Charts.Batch(Path.Combine(outDir, "training-by-batch.png"), tinyByBatch, gpt2ByBatch);
Charts.Phases(Path.Combine(outDir, "training-phases.png"), bySize.Append(tinyTarget).ToList());
}

// 2. Inference: decode against the bandwidth ceiling, TTFT, KV cache vs recomputation, concurrency.
List<InferenceBenchResult> inference = [];
if (Run("inference"))
{
    inference = cli.Inference(quick ? ["tiny", "gpt2"] : ["tiny", "baby", "gpt2"], tokens: 64, recomputeTokens: 256);
    report.Inference(inference);
    Charts.Inference(Path.Combine(outDir, "inference.png"), inference);
}

// 2b. Tokenizer: learning a byte-level BPE from the built-in corpus and ~50 MB of it, against a recount per merge.
List<TokenizerBenchResult> tokenizer = [];
if (Run("tokenizer"))
{
    tokenizer = cli.Tokenizer(vocabSize: 8192, baselineMerges: quick ? 200 : 1000);
    report.Tokenizer(tokenizer);
}

// 3. Memory: resident set over many training steps and many generations, in this process.
// Progress lines go to the console only: written to the report, they would land in the section before this one's heading.
MemoryResult? memory = null;
if (Run("memory"))
{
    memory = MemoryGrowth.Run(quick ? 500 : 2000, quick ? 250 : 1000, inferenceWarmup: quick ? 250 : 1000, Console.WriteLine);
    report.Memory(memory);
    Charts.Memory(Path.Combine(outDir, "memory.png"), memory);
}

// 4. The dashboard's cost: the same run in the CLI, in the server alone, and in the server with a browser watching.
DashboardCostResult? dashboard = null;
if (Run("dashboard"))
{
    dashboard = await DashboardCost.RunAsync(cli, steps: quick ? 150 : 800, warmup: quick ? 50 : 200, rounds: quick ? 1 : 5, Console.WriteLine);
    report.Dashboard(dashboard);
    Charts.Dashboard(Path.Combine(outDir, "dashboard.png"), dashboard);
}

// 5. What a live render of the run page's charts costs the browser, against the run's length.
List<ChartRenderResult>? charts = null;
if (Run("charts"))
{
    charts = await ChartRender.RunAsync(quick ? [1_500, 50_000] : [1_500, 10_000, 50_000, 200_000], TimeSpan.FromSeconds(quick ? 6 : 15), Console.WriteLine);
    report.Charts(charts);
    Charts.Render(Path.Combine(outDir, "chart-render.png"), charts);
}

// 6. How long the run page takes to show a long run's whole history.
List<RunOpenResult>? runOpen = null;
if (Run("charts"))
{
    runOpen = await RunOpen.RunAsync(quick ? [10_000] : [10_000, 50_000, 200_000], opens: quick ? 1 : 3, Console.WriteLine);
    report.RunOpen(runOpen);
    Charts.RunOpen(Path.Combine(outDir, "run-open.png"), runOpen);
}

// 7. The dashboard's first load while a run trains: the build's server against the published one.
List<FirstLoadResult>? firstLoad = null;
if (Run("first-load"))
{
    firstLoad = await FirstLoad.RunAsync(loads: quick ? 3 : 7, Console.WriteLine);
    report.FirstLoad(firstLoad);
    Charts.FirstLoad(Path.Combine(outDir, "first-load.png"), firstLoad);
}

(string Section, string Key, object? Value)[] results = [("training", "bySize", bySize), ("training", "tinyTarget", tinyTarget),
    ("training", "tinyByBatch", tinyByBatch), ("training", "gpt2ByBatch", gpt2ByBatch), ("inference", "inference", inference), ("tokenizer", "tokenizer", tokenizer),
    ("memory", "memory", memory), ("dashboard", "dashboard", dashboard), ("charts", "charts", charts), ("charts", "runOpen", runOpen),
    ("first-load", "firstLoad", firstLoad)];
// With --only, the other sections' results (tables and JSON) stay as the last full run wrote them.
report.Save(results.Where(r => Run(r.Section)).ToDictionary(r => r.Key, r => r.Value), merge: only is not null);
Console.WriteLine($"wrote {outDir}");

namespace WebLlm.Bench
{
    /// <summary>Runs the built <c>webllm</c> as a child process per measurement and reads its JSON line.</summary>
    internal sealed class Webllm
    {
        private readonly string dll = Path.Combine(AppContext.BaseDirectory, "webllm.dll");

        /// <summary>Large models get more warm-up steps: the allocator's heap grows to its working size over the first few.</summary>
        public TrainingBenchResult Train(string preset, int batch, int block, int steps) =>
            Last<TrainingBenchResult>("bench", "--preset", preset, "--batch-size", $"{batch}", "--block-size", $"{block}",
                "--steps", $"{steps}", "--warmup-steps", preset.StartsWith("gpt2", StringComparison.Ordinal) ? "3" : "2",
                "--threads", $"{Environment.ProcessorCount}", "--ceiling-seconds", "3");

        public List<TokenizerBenchResult> Tokenizer(int vocabSize, int baselineMerges) =>
            Run(["bench", "--tokenizer", "--vocab-size", $"{vocabSize}", "--baseline-merges", $"{baselineMerges}"])
                .Where(l => l.StartsWith('{')).Select(l => JsonSerializer.Deserialize<TokenizerBenchResult>(l, Report.Json)!).ToList();

        public List<InferenceBenchResult> Inference(string[] presets, int tokens, int recomputeTokens)
        {
            var output = Run(["bench", "--inference", "--presets", .. presets, "--tokens", $"{tokens}", "--recompute-tokens", $"{recomputeTokens}", "--streams", "1", "2", "4"]);
            return output.Where(l => l.StartsWith('{')).Select(l => JsonSerializer.Deserialize<InferenceBenchResult>(l, Report.Json)!).ToList();
        }

        private T Last<T>(params string[] args) => JsonSerializer.Deserialize<T>(Run(args).Last(l => l.StartsWith('{')), Report.Json)!;

        private ProcessStartInfo StartInfo(string[] args)
        {
            Console.WriteLine("webllm " + string.Join(' ', args));
            var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet") { RedirectStandardOutput = true };
            psi.ArgumentList.Add(dll);
            foreach (var a in args) psi.ArgumentList.Add(a);
            return psi;
        }

        /// <summary>Starts webllm and hands each line it prints to <paramref name="onLine"/> as it comes (on another thread).</summary>
        public Process Start(string[] args, Action<string> onLine)
        {
            var process = Process.Start(StartInfo(args))!;
            process.OutputDataReceived += (_, e) => { if (e.Data is { } line) onLine(line); };
            process.BeginOutputReadLine();
            return process;
        }

        public List<string> Run(string[] args)
        {
            using var process = Process.Start(StartInfo(args))!;
            var lines = new List<string>();
            while (process.StandardOutput.ReadLine() is { } line)
            {
                Console.WriteLine("  " + line);
                lines.Add(line);
            }
            process.WaitForExit();
            if (process.ExitCode != 0) throw new InvalidOperationException($"webllm {string.Join(' ', args)} exited with {process.ExitCode}");
            return lines;
        }
    }

    /// <summary>Markdown tables of the results, written next to the charts.</summary>
    internal sealed class Report(string dir)
    {
        public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = false };
        private readonly StringBuilder text = new();

        public void Line(string line)
        {
            Console.WriteLine(line);
            text.AppendLine(line);
        }

        private void Row(params object[] cells) =>
            Line("| " + string.Join(" | ", cells.Select(c => Convert.ToString(c, CultureInfo.InvariantCulture))) + " |");

        public void Training(string title, IEnumerable<TrainingBenchResult> results)
        {
            Line($"## {title}");
            Line("");
            Row("preset", "parameters", "batch × context", "ms/step", "tokens/s", "GFLOP/s", "ceiling GFLOP/s", "fraction", "peak RSS MB");
            Row("---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:");
            foreach (var r in results)
                Row(r.Preset, r.Parameters.ToString("N0", CultureInfo.InvariantCulture), $"{r.BatchSize} × {r.BlockSize}", $"{r.MsPerStep:F0}",
                    $"{r.TokensPerSecond:F0}", $"{r.AchievedGflops:F1}", $"{r.CeilingGflops:F1}", $"{r.Fraction:P1}", $"{r.PeakResidentMegabytes:F0}");
            Line("");
        }

        public void Phases(IEnumerable<TrainingBenchResult> results)
        {
            Line("## Where a training step's time goes (median ms)");
            Line("");
            Row("preset", "batch", "data", "forward", "backward", "clip", "AdamW", "other");
            Row("---", "---:", "---:", "---:", "---:", "---:", "---:", "---:");
            foreach (var r in results)
            {
                var p = r.Phases;
                Row(r.Preset, r.BatchSize, $"{p.Data:F1}", $"{p.Forward:F0}", $"{p.Backward:F0}", $"{p.Clip:F0}", $"{p.Optimizer:F0}", $"{p.Other:F0}");
            }
            Line("");
        }

        public void Inference(IEnumerable<InferenceBenchResult> results)
        {
            Line("## Decoding (batch 1, KV cache)");
            Line("");
            Line("Medians: the fraction of each decode repetition against the copy bandwidth measured around it, and of the KV cache's");
            Line("speed-up over alternating pairs; the range of the repetitions in brackets.");
            Line("");
            Row("preset", "weights MB", "bandwidth GB/s", "matvec GB/s", "ceiling tok/s", "decode tok/s", "fraction", "TTFT", "KV cache speed-up", "1 / 2 / 4 streams tok/s");
            Row("---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:");
            foreach (var r in results)
                Row(r.Preset, $"{r.WeightMegabytes:F0}", $"{r.BandwidthGBps:F1}{Range(r.BandwidthsGBps, "F1")}", $"{r.MatvecGBps:F1}", $"{r.CeilingTokensPerSecond:F0}", $"{r.DecodeTokensPerSecond:F0}",
                    $"{r.Fraction:P1}{Range(r.Fractions?.Select(f => f * 100).ToList(), "F0")}", $"{r.TimeToFirstTokenMs:F0} ms ({r.LongPromptTokens} tokens)",
                    $"{r.RecomputeSpeedup:F1}×{Range(r.RecomputeSpeedups, "F1")} ({r.RecomputeTokens} tokens)",
                    string.Join(" / ", r.ConcurrentTokensPerSecond.OrderBy(c => c.Key).Select(c => c.Value.ToString("F0", CultureInfo.InvariantCulture))));
            Line("");
            Line("Where a decoded token's time goes (ms, medians; projections read by the decoding kernel at the rate shown; slow tokens: what the mean adds to the median):");
            Line("");
            Row("preset", "projections", "read rate GB/s", "rest of forward", "sampling and text", "slow tokens (mean − median)");
            Row("---", "---:", "---:", "---:", "---:", "---:");
            foreach (var r in results.Where(r => r.Phases is not null))
                Row(r.Preset, $"{r.Phases!.ProjectionsMs:F2}", $"{r.Phases.ProjectionGBps:F1}", $"{r.Phases.OtherForwardMs:F2}", $"{r.Phases.SamplingMs:F2}", $"{r.Phases.SlowTokensMs:F2}");
            Line("");
        }

        public void Tokenizer(IEnumerable<TokenizerBenchResult> results)
        {
            Line("## Training a tokenizer (byte-level BPE, GPT-2's split)");
            Line("");
            Row("corpus", "MB", "vocabulary", "learn s", "learn MB/s", "encode s", "encode MB/s", "bytes/token", "first merges: incremental vs recount");
            Row("---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---");
            foreach (var r in results)
                Row(r.Corpus, $"{r.Megabytes:F1}", $"{r.VocabSize:N0}", $"{r.TrainSeconds:F2}", $"{r.TrainMegabytesPerSecond:F2}", $"{r.EncodeSeconds:F2}",
                    $"{r.EncodeMegabytesPerSecond:F2}", $"{r.BytesPerToken:F2}", $"{r.BaselineMerges:N0}: {r.MergesSeconds:F2} s vs {r.BaselineSeconds:F2} s ({r.BaselineSpeedup:F1}×)");
            Line("");
        }

        private static string Range(IReadOnlyList<double>? values, string format) => values is { Count: > 1 }
            ? string.Create(CultureInfo.InvariantCulture, $" ({values.Min().ToString(format, CultureInfo.InvariantCulture)}–{values.Max().ToString(format, CultureInfo.InvariantCulture)})")
            : "";

        public void Memory(MemoryResult m)
        {
            Line("## Memory");
            Line("");
            Line($"- training ({m.TrainingSteps} steps after warm-up): resident {m.TrainingRss[0].Megabytes:F0} → {m.TrainingRss[^1].Megabytes:F0} MB ({m.TrainingGrowth:P1}); live tensors {m.TensorsBefore} → {m.TensorsAfterTraining}");
            var (first, last) = (m.InferenceRss[0], m.InferenceRss[^1]);
            Line($"- inference ({m.Requests} generations after {m.InferenceWarmup} of warm-up): resident {first.Megabytes:F1} → {last.Megabytes:F1} MB ({m.InferenceGrowth:P1}), " +
                 $"second half {m.InferenceSlopeMbPer1000:+0.00;-0.00} MB per 1,000 generations; GC committed {first.ManagedMegabytes:F1} → {last.ManagedMegabytes:F1} MB; " +
                 $"malloc in use {first.NativeMegabytes:F1} → {last.NativeMegabytes:F1} MB; live tensors → {m.TensorsAfterInference}");
            Line("");
        }

        public void Dashboard(DashboardCostResult d)
        {
            Line("## Dashboard cost");
            Line("");
            Line($"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC. Same tiny run (batch 12, context 64, char tokenizer), median ms/step after a warm-up of " +
                 $"{d.WarmupSteps} steps each. The CLI and the server train side by side and take turns (the other stopped with SIGSTOP) in windows of " +
                 $"{d.WindowSteps} steps: CLI, server with Chromium on the run page, server with Chromium paused, and again; about {d.Steps - d.WarmupSteps} steps of " +
                 $"each kind a round, each window's first steps left out. {d.Rounds} rounds; the browser had rendered the run page by step " +
                 $"{d.LatestBrowserReadyStep} at the latest. CPU: cores busy per second of wall time over the server's windows.");
            Line("");
            Row("variant", "ms/step", "share of the CLI's tokens/s", "CPU: training threads", "CPU: other server threads", "CPU: Chromium");
            Row("---", "---:", "---:", "---:", "---:", "---:");
            static string Cpu(double? cores) => cores is double c ? $"{c:F2}" : "–";
            foreach (var v in new[] { d.Cli, d.Server, d.ServerWithBrowser })
                Row(v.Name, $"{v.MsPerStep:F2}", $"{d.Cli.MsPerStep / v.MsPerStep:P1}", Cpu(v.TrainingCpu), Cpu(v.ServerCpu), Cpu(v.BrowserCpu));
            Line("");
            Line($"Median of the rounds' own ratios: server + Chromium {d.RoundRatio:P1} of the CLI, server with the browser paused {d.RoundServerRatio:P1}, " +
                 $"watched / paused {d.RoundBrowserRatio:P1} (pooled: {d.BrowserRatio:P1}). Per round (median ms/step; share of that round's CLI):");
            Line("");
            Row("round", "CLI", "server, browser paused", "server + Chromium", "watched / paused");
            Row("---:", "---:", "---:", "---:", "---:");
            foreach (var r in d.PerRound)
                Row($"{r.Round}", $"{r.Cli:F2}", $"{r.Server:F2} ({r.ServerRatio:P1})", $"{r.ServerWithBrowser:F2} ({r.Ratio:P1})", $"{r.BrowserRatio:P1}");
            Line("");
        }

        public void Charts(IReadOnlyList<ChartRenderResult> results) => ByRunLength("Chart render time against run length",
            "the run page's four live charts (7 lines) over a synthetic run growing by 20 steps a second (`/dev/chart-bench`), in headless " +
            "Chromium on this machine, nothing training; the page's own timing of each render.",
            "renders", "ms", "F1", results.Select(r => (r.Steps, r.Renders, r.MedianMs, r.MinMs, r.MaxMs)));

        public void RunOpen(IReadOnlyList<RunOpenResult> results) => ByRunLength("Opening a run's page against its length",
            "an external run of each length (steps posted through the API), opened from the run list of a freshly booted app in headless " +
            "Chromium, until the loss chart holds every step; nothing training.",
            "openings", "s", "F2", results.Select(r => (r.Steps, r.Opens, r.MedianSeconds, r.MinSeconds, r.MaxSeconds)));

        public void FirstLoad(IReadOnlyList<FirstLoadResult> results)
        {
            Line("## First load of the dashboard");
            Line("");
            Line($"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC: `/` opened in a fresh headless Chromium context (empty cache) while a `tiny` run " +
                 "trains on the same two cores, timed by the page's clock from the navigation's start until the live connection is up and the " +
                 "run list is drawn; \"files in\": when the last file of the app had arrived (the rest is starting the .NET runtime and the app); " +
                 "reload: the same context again, its cache warm. Medians.");
            Line("");
            Row("served as", "loads", "usable after (s)", "range (s)", "files in (s)", "transferred", "of which .wasm", "unpacked", "reload (s)", "reload transferred", "not usable in 2 min");
            Row("---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:");
            static string Mb(long bytes) => $"{bytes / 1e6:F2} MB";
            foreach (var r in results)
                Row(r.Variant, r.Loads, $"{r.MedianSeconds:F2}", $"{r.MinSeconds:F2}–{r.MaxSeconds:F2}", $"{r.DownloadedMedianSeconds:F2}", Mb(r.TransferredBytes),
                    Mb(r.TransferredByKind.GetValueOrDefault("wasm")), Mb(r.DecodedBytes), $"{r.ReloadMedianSeconds:F2}", $"{r.ReloadTransferredBytes / 1e3:F0} kB", r.NeverUsable);
            Line("");
        }

        /// <summary>A table of medians and ranges, one row per run length.</summary>
        private void ByRunLength(string heading, string what, string counted, string unit, string format,
            IEnumerable<(int Steps, int Count, double Median, double Min, double Max)> rows)
        {
            Line($"## {heading}");
            Line("");
            Line($"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC: {what}");
            Line("");
            Row("steps", counted, $"median {unit}", $"range {unit}");
            Row("---:", "---:", "---:", "---:");
            foreach (var r in rows)
                Row(r.Steps.ToString("N0", CultureInfo.InvariantCulture), r.Count, r.Median.ToString(format, CultureInfo.InvariantCulture),
                    $"{r.Min.ToString(format, CultureInfo.InvariantCulture)}–{r.Max.ToString(format, CultureInfo.InvariantCulture)}");
            Line("");
        }

        /// <summary>
        /// Writes results.md and results.json. Merging keeps what the file holds for sections not measured now
        /// (JSON keys, and Markdown sections by their "## " heading), so a partial run updates its part only.
        /// </summary>
        public void Save(Dictionary<string, object?> results, bool merge)
        {
            string jsonPath = Path.Combine(dir, "results.json"), mdPath = Path.Combine(dir, "results.md");
            var json = merge && File.Exists(jsonPath) ? JsonNode.Parse(File.ReadAllText(jsonPath))!.AsObject() : [];
            foreach (var (key, value) in results) json[key] = JsonSerializer.SerializeToNode(value, Json);
            File.WriteAllText(jsonPath, json.ToJsonString(Json));
            if (!merge || !File.Exists(mdPath))
            {
                File.WriteAllText(mdPath, text.ToString());
                return;
            }
            var sections = Sections(File.ReadAllText(mdPath));
            foreach (var (heading, body) in Sections(text.ToString()).Where(s => s.Heading.Length > 0))
            {
                int at = sections.FindIndex(s => s.Heading == heading);
                if (at >= 0) sections[at] = (heading, body);
                else sections.Add((heading, body));
            }
            File.WriteAllText(mdPath, string.Concat(sections.Select(s => s.Body)));
        }

        /// <summary>Markdown split before every "## " line; the text before the first one has an empty heading.</summary>
        private static List<(string Heading, string Body)> Sections(string markdown)
        {
            var sections = new List<(string Heading, string Body)> { ("", "") };
            foreach (var line in System.Text.RegularExpressions.Regex.Split(markdown, "(?<=\n)")) // each line keeps its newline
            {
                if (line.StartsWith("## ", StringComparison.Ordinal)) sections.Add((line.TrimEnd(), ""));
                sections[^1] = (sections[^1].Heading, sections[^1].Body + line);
            }
            return sections;
        }
    }
}
