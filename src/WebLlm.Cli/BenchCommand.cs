using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using WebLlm.Training;
using WebLlm.Training.Model;
using WebLlm.Training.Training;

namespace WebLlm.Cli;

/// <summary>The numbers a benchmark run prints last, as one JSON line.</summary>
public sealed record BenchResult(
    string Preset, long Parameters, int BatchSize, int BlockSize, int Threads, int Steps, double MsPerStep,
    double TokensPerSecond, double AchievedGflops, double CeilingGflops, double Fraction);

public static class BenchCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "Model shape.", DefaultValueFactory = _ => "tiny" };
        preset.AcceptOnlyFromAmong([.. GptConfig.Presets.Keys]);
        var batch = new Option<int>("--batch-size") { Description = "Sequences per step.", DefaultValueFactory = _ => 12 };
        var block = new Option<int?>("--block-size") { Description = "Context per sequence (default: the preset's)." };
        var steps = new Option<int>("--steps") { Description = "Timed steps (after warm-up).", DefaultValueFactory = _ => 10 };
        var warmup = new Option<int>("--warmup-steps") { Description = "Untimed steps first.", DefaultValueFactory = _ => 2 };
        var threads = new Option<int>("--threads") { Description = "libtorch threads (0 = one per core).", DefaultValueFactory = _ => 0 };
        var ceilingSeconds = new Option<double>("--ceiling-seconds") { Description = "Time spent measuring the matrix-product ceiling.", DefaultValueFactory = _ => 3.0 };
        var inference = new Option<bool>("--inference") { Description = "Measure decoding instead of training: tokens/s with the KV cache against the memory-bandwidth ceiling." };
        var presets = new Option<string[]>("--presets") { Description = "With --inference: the presets to measure.", DefaultValueFactory = _ => ["tiny", "baby", "gpt2"], AllowMultipleArgumentsPerToken = true };
        var tokens = new Option<int>("--tokens") { Description = "With --inference: tokens per generation.", DefaultValueFactory = _ => 128 };
        var recompute = new Option<int>("--recompute-tokens") { Description = "With --inference: tokens generated with and without the KV cache (0 = skip).", DefaultValueFactory = _ => 256 };
        var streams = new Option<int[]>("--streams") { Description = "With --inference: concurrent stream counts.", DefaultValueFactory = _ => [1, 2, 4], AllowMultipleArgumentsPerToken = true };

        var command = new Command("bench", "Measure training steps against the machine's fp32 matrix-product ceiling, measured in the same run.")
        {
            preset, batch, block, steps, warmup, threads, ceilingSeconds, inference, presets, tokens, recompute, streams,
        };
        command.SetAction(parse => CliRunner.Guard(() =>
        {
            if (parse.GetValue(inference))
            {
                var names = parse.GetValue(presets)!;
                foreach (var p in names) GptConfig.FromPreset(p);
                int k = parse.GetValue(tokens), r = parse.GetValue(recompute);
                var counts = parse.GetValue(streams)!;
                if (k < 2) throw new ArgumentException($"--tokens must be at least 2 (got {k}).");
                if (r < 0) throw new ArgumentException($"--recompute-tokens must be 0 or more (got {r}).");
                if (counts.Length == 0 || counts.Any(c => c < 1)) throw new ArgumentException("--streams takes positive counts.");
                Devices.SetThreads(parse.GetValue(threads));
                return InferenceBench.Run(names, k, r, counts);
            }
            string name = parse.GetValue(preset)!;
            var config = GptConfig.FromPreset(name);
            int t = parse.GetValue(block) ?? config.BlockSize;
            int n = parse.GetValue(steps), w = parse.GetValue(warmup), b = parse.GetValue(batch);
            if (n < 1) throw new ArgumentException($"--steps must be at least 1 (got {n}).");
            if (w < 0) throw new ArgumentException($"--warmup-steps must be 0 or more (got {w}).");
            var options = new TrainOptions
            {
                MaxSteps = n + w, BatchSize = b, BlockSize = t, Threads = parse.GetValue(threads), Device = "cpu",
                WarmupSteps = 0, EvalEvery = 0, SampleEvery = 0, CheckpointEvery = 0, PeakFlops = 1,
            };
            options.Validate(config.BlockSize);
            Devices.SetThreads(options.Threads);

            Console.WriteLine($"measuring the fp32 matrix-product ceiling ({TorchSharp.torch.get_num_threads()} threads)…");
            double ceiling = MatmulCeiling.Measure(Devices.Resolve("cpu"), TimeSpan.FromSeconds(parse.GetValue(ceilingSeconds)), 2048);
            Console.WriteLine($"ceiling: {ceiling / 1e9:F1} GFLOP/s");

            var rng = new Random(1);
            var stream = new ushort[Math.Max(100_000, b * (t + 1) * 4)];
            for (int i = 0; i < stream.Length; i++) stream[i] = (ushort)rng.Next(config.VocabSize);
            var data = new TrainingData(stream, stream[..(t + 1)], null);
            string dir = Path.Combine(Path.GetTempPath(), "webllm-bench-" + Guid.NewGuid().ToString("N"));
            using var trainer = Trainer.Create(config, options with { PeakFlops = ceiling }, data, dir);
            Console.WriteLine($"{name}: {config.ParameterCount:N0} parameters, batch {b}×{t}, {w} warm-up + {n} timed steps");
            var timed = new List<StepResult>();
            for (int i = 0; i < n + w; i++)
            {
                var s = trainer.TrainStep();
                Console.WriteLine(TrainCommand.FormatStep(s, n + w) + (i < w ? " (warm-up)" : ""));
                if (i >= w) timed.Add(s);
            }
            double ms = Median(timed.Select(s => s.Milliseconds));
            PrintPhases(timed, ms);
            double tokensPerSecond = (double)b * t / (ms / 1000);
            double achieved = config.TrainingFlopsPerToken(t) * tokensPerSecond;
            var result = new BenchResult(name, config.ParameterCount, b, t, TorchSharp.torch.get_num_threads(), n, ms,
                tokensPerSecond, achieved / 1e9, ceiling / 1e9, achieved / ceiling);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"median {ms:F1} ms/step, {tokensPerSecond:N0} tok/s, {achieved / 1e9:F1} GFLOP/s of {ceiling / 1e9:F1} ({achieved / ceiling:P1} of the ceiling)"));
            Console.WriteLine(JsonSerializer.Serialize(result, JsonSerializerOptions.Web));
            return CliRunner.Ok;
        }));
        return command;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    /// <summary>Median milliseconds per phase; "other" is what the phases do not cover (.NET and bookkeeping).</summary>
    private static void PrintPhases(List<StepResult> steps, double stepMs)
    {
        var phases = steps.Select(s => s.Phases!).ToList();
        (string Name, double Ms)[] rows =
        [
            ("data", Median(phases.Select(p => p.Data))),
            ("forward", Median(phases.Select(p => p.Forward))),
            ("backward", Median(phases.Select(p => p.Backward))),
            ("clip (grad norm)", Median(phases.Select(p => p.Clip))),
            ("optimizer (AdamW)", Median(phases.Select(p => p.Optimizer))),
        ];
        Console.WriteLine("where the time goes (median per step):");
        foreach (var (name, ms) in rows.Append(("other", Math.Max(0, stepMs - rows.Sum(r => r.Ms)))))
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-18} {ms,9:F1} ms  {ms / stepMs,6:P1}"));
    }
}
