using System.Diagnostics;
using WebLlm.Training.Model;
using WebLlm.Training.Sampling;
using WebLlm.Training.Tokenization;
using WebLlm.Training.Training;

namespace WebLlm.Bench;

public sealed record RssPoint(long X, double Megabytes);

public sealed record MemoryResult(
    int TrainingSteps, IReadOnlyList<RssPoint> TrainingRss, double TrainingGrowth,
    int Requests, IReadOnlyList<RssPoint> InferenceRss, double InferenceGrowth,
    long TensorsBefore, long TensorsAfterTraining, long TensorsAfterInference);

/// <summary>
/// Resident memory over many training steps and many generations after a warm-up: a native tensor that
/// leaks once per step or request shows as steady growth. Small shapes keep it to a minute.
/// </summary>
internal static class MemoryGrowth
{
    public static MemoryResult Run(int steps, int requests, Action<string> log)
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
        var trainingRss = new List<RssPoint> { new(0, Rss()) };
        for (int i = 1; i <= steps; i++)
        {
            trainer.TrainStep();
            if (trainer.EvalDue) trainer.Evaluate();
            if (i % 50 == 0) trainingRss.Add(new RssPoint(i, Rss()));
        }
        long tensorsAfterTraining = LiveTensors();
        log($"memory: {steps} training steps: {trainingRss[0].Megabytes:F0} → {trainingRss[^1].Megabytes:F0} MB");

        var sampler = new Sampler(trainer.Model, tokenizer);
        var sampling = new SamplingOptions { MaxNewTokens = 16, Temperature = 0.8, TopK = 20 };
        for (int i = 0; i < 20; i++) sampler.Complete("abc", sampling with { Seed = (ulong)i });
        var inferenceRss = new List<RssPoint> { new(0, Rss()) };
        for (int i = 1; i <= requests; i++)
        {
            sampler.Complete("hello", sampling with { Seed = (ulong)i });
            if (i % 50 == 0) inferenceRss.Add(new RssPoint(i, Rss()));
        }
        log($"memory: {requests} generations: {inferenceRss[0].Megabytes:F0} → {inferenceRss[^1].Megabytes:F0} MB");
        return new MemoryResult(steps, trainingRss, Growth(trainingRss), requests, inferenceRss, Growth(inferenceRss),
            tensorsBefore, tensorsAfterTraining, LiveTensors());
    }

    private static double Growth(List<RssPoint> points) => (points[^1].Megabytes - points[0].Megabytes) / points[0].Megabytes;

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
