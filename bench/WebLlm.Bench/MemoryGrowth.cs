using System.Diagnostics;
using WebLlm.Training;
using WebLlm.Training.Model;
using WebLlm.Training.Sampling;
using WebLlm.Training.Tokenization;
using WebLlm.Training.Loop;

namespace WebLlm.Bench;

/// <summary>Resident memory after X steps or requests, and two parts of it: what the .NET GC has committed (its heap
/// and the room it keeps for the next allocations) and what glibc's malloc has handed out (tensors, libtorch's own).</summary>
public sealed record RssPoint(long X, double Megabytes, double ManagedMegabytes, double? NativeMegabytes);

public sealed record MemoryResult(
    int TrainingSteps, IReadOnlyList<RssPoint> TrainingRss, double TrainingGrowth,
    int Requests, IReadOnlyList<RssPoint> InferenceRss, double InferenceGrowth,
    long TensorsBefore, long TensorsAfterTraining, long TensorsAfterInference)
{
    public int InferenceWarmup { get; init; }

    /// <summary>Least-squares slope of resident memory over the second half of the generations, MB per 1,000:
    /// a leak of a fixed size per request shows as a steady slope; a heap settling after warm-up flattens out.</summary>
    public double InferenceSlopeMbPer1000 { get; init; }
}

/// <summary>
/// Resident memory over many training steps and many generations after a warm-up: a native tensor that
/// leaks once per step or request shows as steady growth. Small shapes keep it to a few minutes. The generations
/// get a long warm-up of their own: over the first few hundred the JIT recompiles hot methods (tiered compilation)
/// and the GC sizes its allocation budget, which adds megabytes that are not a leak.
/// </summary>
internal static class MemoryGrowth
{
    public static MemoryResult Run(int steps, int requests, int inferenceWarmup, Action<string> log)
    {
        var tokenizer = new CharTokenizer(new string(Enumerable.Range(0, 96).Select(i => (char)(' ' + i)).ToArray()));
        var rng = new Random(5);
        var stream = Enumerable.Range(0, 200_000).Select(_ => (ushort)rng.Next(96)).ToArray();
        var config = GptConfig.FromPreset("tiny") with { VocabSize = 96 };
        var options = new TrainOptions
        {
            MaxSteps = steps + 100, BatchSize = 8, WarmupSteps = 10, EvalEvery = 250, EvalBatches = 2, SampleEvery = 0,
            CheckpointEvery = 0, Device = "cpu", PeakFlops = 1e11,
        };
        string dir = Path.Combine(Path.GetTempPath(), "webllm-memory-" + Guid.NewGuid().ToString("N"));
        using var trainer = Trainer.Create(config, options, new TrainingData(stream[..180_000], stream[180_000..], tokenizer), dir);
        for (int i = 0; i < 100; i++) trainer.TrainStep(); // warm-up: allocator pools and caches fill
        long tensorsBefore = LiveTensors();
        var trainingRss = new List<RssPoint> { Measure(0) };
        for (int i = 1; i <= steps; i++)
        {
            trainer.TrainStep();
            if (trainer.EvalDue) trainer.Evaluate();
            if (i % 50 == 0) trainingRss.Add(Measure(i));
        }
        long tensorsAfterTraining = LiveTensors();
        log($"memory: {steps} training steps: {trainingRss[0].Megabytes:F0} → {trainingRss[^1].Megabytes:F0} MB");

        using var sampler = new Sampler(trainer.Model, tokenizer);
        var sampling = new SamplingOptions { MaxNewTokens = 16, Temperature = 0.8, TopK = 20 };
        for (int i = 0; i < inferenceWarmup; i++) sampler.Complete("abc", sampling with { Seed = (ulong)(requests + i) });
        var inferenceRss = new List<RssPoint> { Measure(0) };
        for (int i = 1; i <= requests; i++)
        {
            sampler.Complete("hello", sampling with { Seed = (ulong)i });
            if (i % 50 == 0) inferenceRss.Add(Measure(i));
        }
        double slope = Slope(inferenceRss.Skip(inferenceRss.Count / 2).ToList()) * 1000;
        log($"memory: {requests} generations after {inferenceWarmup} of warm-up: {inferenceRss[0].Megabytes:F1} → {inferenceRss[^1].Megabytes:F1} MB " +
            $"(GC committed {inferenceRss[0].ManagedMegabytes:F1} → {inferenceRss[^1].ManagedMegabytes:F1}, malloc in use {inferenceRss[0].NativeMegabytes:F1} → " +
            $"{inferenceRss[^1].NativeMegabytes:F1}); second half {slope:+0.00;-0.00} MB per 1,000");
        return new MemoryResult(steps, trainingRss, Growth(trainingRss), requests, inferenceRss, Growth(inferenceRss),
            tensorsBefore, tensorsAfterTraining, LiveTensors()) { InferenceWarmup = inferenceWarmup, InferenceSlopeMbPer1000 = slope };
    }

    private static double Growth(List<RssPoint> points) => (points[^1].Megabytes - points[0].Megabytes) / points[0].Megabytes;

    /// <summary>Least-squares MB per unit of X.</summary>
    private static double Slope(List<RssPoint> points)
    {
        double mx = points.Average(p => p.X), my = points.Average(p => p.Megabytes);
        return points.Sum(p => (p.X - mx) * (p.Megabytes - my)) / points.Sum(p => (p.X - mx) * (p.X - mx));
    }

    private static RssPoint Measure(long x)
    {
        double rss = Rss(); // collects first, so the parts below are measured after the same collection
        return new RssPoint(x, rss, GC.GetGCMemoryInfo().TotalCommittedBytes / 1e6, NativeAllocator.HeapInUse() / 1e6);
    }

    private static long LiveTensors()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
    }

    private static double Rss()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var p = Process.GetCurrentProcess();
        return p.WorkingSet64 / 1e6;
    }
}
