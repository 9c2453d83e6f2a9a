using WebLlm.Training.Model;
using WebLlm.Training.Loop;
using static TorchSharp.torch;

namespace WebLlm.Training.Benchmarks;

public sealed record TrainingBenchOptions(string Preset, int BatchSize, int? BlockSize, int Steps, int WarmupSteps, int Threads, double CeilingSeconds);

/// <summary>Median milliseconds per phase of a step; Other is what the phases do not cover (.NET and bookkeeping).</summary>
public sealed record PhaseBreakdown(double Data, double Forward, double Backward, double Clip, double Optimizer, double Other);

public sealed record TrainingBenchResult(
    string Preset, long Parameters, int BatchSize, int BlockSize, int Threads, int Steps, double MsPerStep,
    double TokensPerSecond, double AchievedGflops, double CeilingGflops, double Fraction, PhaseBreakdown Phases)
{
    /// <summary>Peak resident memory of the process so far; in a process that ran only this benchmark, the preset's peak.</summary>
    public double PeakResidentMegabytes { get; init; }
}

/// <summary>
/// Training steps on random tokens (speed does not depend on the data) against the fp32 matrix-product
/// ceiling measured in the same run, so machine noise mostly cancels out of the fraction.
/// </summary>
public static class TrainingBenchmark
{
    public static TrainingBenchResult Run(TrainingBenchOptions o, Action<string>? log = null, Action<StepResult, bool>? onStep = null, double? ceiling = null)
    {
        var config = GptConfig.FromPreset(o.Preset);
        int t = o.BlockSize ?? config.BlockSize;
        if (o.Steps < 1) throw new ArgumentException($"steps must be at least 1 (got {o.Steps}).");
        if (o.WarmupSteps < 0) throw new ArgumentException($"warm-up steps must be 0 or more (got {o.WarmupSteps}).");
        var options = new TrainOptions
        {
            MaxSteps = o.Steps + o.WarmupSteps, BatchSize = o.BatchSize, BlockSize = t, Threads = o.Threads, Device = "cpu",
            WarmupSteps = 0, EvalEvery = 0, SampleEvery = 0, CheckpointEvery = 0, PeakFlops = 1,
        };
        options.Validate(config.BlockSize);
        Devices.SetThreads(o.Threads);

        double peak = ceiling ?? MeasureCeiling(o.CeilingSeconds, log);
        var rng = new Random(1);
        var stream = new ushort[Math.Max(100_000, o.BatchSize * (t + 1) * 4)];
        for (int i = 0; i < stream.Length; i++) stream[i] = (ushort)rng.Next(config.VocabSize);
        string dir = Path.Combine(Path.GetTempPath(), "webllm-bench-" + Guid.NewGuid().ToString("N"));
        using var trainer = Trainer.Create(config, options with { PeakFlops = peak }, new TrainingData(stream, stream[..(t + 1)], null), dir);
        log?.Invoke($"{o.Preset}: {config.ParameterCount:N0} parameters, batch {o.BatchSize}×{t}, {o.WarmupSteps} warm-up + {o.Steps} timed steps");
        var timed = new List<StepResult>();
        for (int i = 0; i < options.MaxSteps; i++)
        {
            var s = trainer.TrainStep();
            onStep?.Invoke(s, i < o.WarmupSteps);
            if (i >= o.WarmupSteps) timed.Add(s);
        }
        // Measured again after the steps, and the higher kept: once in a suite run the VM gave the first measurement a
        // slow few seconds (107 GFLOP/s against 180-189 in every other process), and gpt2 came out at 132% of it.
        if (ceiling is null) peak = Math.Max(peak, MeasureCeiling(o.CeilingSeconds, log, "again, after the steps"));
        double ms = Stats.Median(timed.Select(s => s.Milliseconds));
        var phases = timed.Select(s => s.Phases!).ToList();
        double data = Stats.Median(phases.Select(p => p.Data)), fwd = Stats.Median(phases.Select(p => p.Forward)),
            bwd = Stats.Median(phases.Select(p => p.Backward)), clip = Stats.Median(phases.Select(p => p.Clip)), opt = Stats.Median(phases.Select(p => p.Optimizer));
        double tokensPerSecond = (double)o.BatchSize * t / (ms / 1000);
        double achieved = config.TrainingFlopsPerToken(t) * tokensPerSecond;
        return new TrainingBenchResult(o.Preset, config.ParameterCount, o.BatchSize, t, get_num_threads(), o.Steps, ms,
            tokensPerSecond, achieved / 1e9, peak / 1e9, achieved / peak,
            new PhaseBreakdown(data, fwd, bwd, clip, opt, Math.Max(0, ms - data - fwd - bwd - clip - opt)))
        {
            PeakResidentMegabytes = System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64 / 1e6,
        };
    }

    public static double MeasureCeiling(double seconds, Action<string>? log = null, string? when = null)
    {
        log?.Invoke($"measuring the fp32 matrix-product ceiling ({get_num_threads()} threads{(when is null ? "" : ", " + when)})…");
        double ceiling = MatmulCeiling.Measure(Devices.Resolve("cpu"), TimeSpan.FromSeconds(seconds), 2048);
        log?.Invoke($"ceiling: {ceiling / 1e9:F1} GFLOP/s");
        return ceiling;
    }
}
