using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using WebLlm.Training;
using WebLlm.Training.Model;
using WebLlm.Training.Benchmarks;

namespace WebLlm.Cli;

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
        var tokenizer = new Option<bool>("--tokenizer") { Description = "Measure byte-level BPE training and encoding (the built-in corpus and ~50 MB of it) against a full recount per merge." };
        var vocabSize = new Option<int>("--vocab-size") { Description = "With --tokenizer: the vocabulary to learn.", DefaultValueFactory = _ => 8192 };
        var baselineMerges = new Option<int>("--baseline-merges") { Description = "With --tokenizer: merges the recounting baseline learns.", DefaultValueFactory = _ => 1000 };
        var streams = new Option<int[]>("--streams") { Description = "With --inference: concurrent stream counts.", DefaultValueFactory = _ => [1, 2, 4], AllowMultipleArgumentsPerToken = true };

        var command = new Command("bench", "Measure training steps against the machine's fp32 matrix-product ceiling, measured in the same run.")
        {
            preset, batch, block, steps, warmup, threads, ceilingSeconds, inference, presets, tokens, recompute, streams, tokenizer, vocabSize, baselineMerges,
        };
        command.SetAction(parse => CliRunner.Guard(() =>
        {
            if (parse.GetValue(tokenizer))
            {
                int v = parse.GetValue(vocabSize), b = parse.GetValue(baselineMerges);
                if (v is < 257 or > 65_536) throw new ArgumentException($"--vocab-size must be from 257 to 65536 (got {v}).");
                if (b < 1 || b > v - 257) throw new ArgumentException($"--baseline-merges must be from 1 to the vocabulary's merges (got {b}).");
                foreach (var r1 in TokenizerBenchmark.Run(v, b, Console.WriteLine))
                    Console.WriteLine(JsonSerializer.Serialize(r1, JsonSerializerOptions.Web));
                return CliRunner.Ok;
            }
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
                foreach (var r1 in InferenceBenchmark.Run(names, k, r, counts, Console.WriteLine))
                    Console.WriteLine(JsonSerializer.Serialize(r1, JsonSerializerOptions.Web));
                return CliRunner.Ok;
            }
            var result = TrainingBenchmark.Run(
                new TrainingBenchOptions(parse.GetValue(preset)!, parse.GetValue(batch), parse.GetValue(block), parse.GetValue(steps),
                    parse.GetValue(warmup), parse.GetValue(threads), parse.GetValue(ceilingSeconds)),
                Console.WriteLine,
                (s, warm) => Console.WriteLine(TrainCommand.FormatStep(s, parse.GetValue(steps) + parse.GetValue(warmup)) + (warm ? " (warm-up)" : "")));
            var ph = result.Phases;
            Console.WriteLine("where the time goes (median per step):");
            foreach (var (phase, ms) in new[] { ("data", ph.Data), ("forward", ph.Forward), ("backward", ph.Backward), ("clip (grad norm)", ph.Clip), ("optimizer (AdamW)", ph.Optimizer), ("other", ph.Other) })
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {phase,-18} {ms,9:F1} ms  {ms / result.MsPerStep,6:P1}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"median {result.MsPerStep:F1} ms/step, {result.TokensPerSecond:N0} tok/s, {result.AchievedGflops:F1} GFLOP/s of {result.CeilingGflops:F1} ({result.Fraction:P1} of the ceiling)"));
            Console.WriteLine(JsonSerializer.Serialize(result, JsonSerializerOptions.Web));
            return CliRunner.Ok;
        }));
        return command;
    }
}
