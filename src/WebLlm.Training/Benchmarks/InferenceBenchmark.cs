using System.Diagnostics;
using System.Globalization;
using WebLlm.Training.Model;
using WebLlm.Training.Sampling;
using WebLlm.Training.Tokenization;
using static TorchSharp.torch;

namespace WebLlm.Training.Benchmarks;

/// <summary>One preset's decoding numbers.</summary>
public sealed record InferenceBenchResult(
    string Preset, long Parameters, double WeightMegabytes, int Threads, double BandwidthGBps, double CeilingTokensPerSecond,
    double DecodeTokensPerSecond, double Fraction, int LongPromptTokens, double TimeToFirstTokenMs,
    int RecomputeTokens, double? RecomputeSpeedup, IReadOnlyDictionary<int, double> ConcurrentTokensPerSecond)
{
    /// <summary>
    /// Bytes/s that a batch-1 matrix-vector product reaches through libtorch (GPT-2's output head: [1, 768] against
    /// [50257, 768]): the rate decoding would read weights at without <see cref="Model.SingleRowLinear"/>, next to the
    /// copy bandwidth above and the kernel's own rate in <see cref="DecodePhases.ProjectionGBps"/>.
    /// </summary>
    public double MatvecGBps { get; init; }

    /// <summary>Where one decoded token's time goes (see <see cref="DecodePhases"/>); null for old results.</summary>
    public DecodePhases? Phases { get; init; }

    /// <summary>
    /// Each decode repetition's tokens/s over the ceiling made of the copy bandwidth measured right before and right after
    /// it; <see cref="Fraction"/> is their median. Null for results from before repetitions.
    /// </summary>
    public IReadOnlyList<double>? Fractions { get; init; }

    /// <summary>The copy bandwidth before the first repetition and after each one; <see cref="BandwidthGBps"/> is their median.</summary>
    public IReadOnlyList<double>? BandwidthsGBps { get; init; }

    /// <summary>Each cached/recomputed pair's speed-up; <see cref="RecomputeSpeedup"/> is their median.</summary>
    public IReadOnlyList<double>? RecomputeSpeedups { get; init; }
}

/// <summary>
/// Milliseconds of one decoded token at batch 1: the weight projections alone (every 2-D weight but the position
/// table, read by the decoding kernel), the rest of the forward pass (embeddings, layer norms, attention over the
/// KV cache, residual adds), and the rest of the sampler's step (softmax, top-k, the draw, the text): medians, like the
/// median time between two tokens the sampling time is taken from. <see cref="ProjectionGBps"/> is the weight bytes
/// over the projection time.
/// </summary>
public sealed record DecodePhases(double ProjectionsMs, double OtherForwardMs, double SamplingMs, double ProjectionGBps)
{
    /// <summary>
    /// What the mean time per token adds to the median: tokens that took far longer than most (another process on the
    /// core, a garbage collection). Decode tokens/s is a mean, so these count in it; 0 for old results.
    /// </summary>
    public double SlowTokensMs { get; init; }
}

/// <summary>
/// Single-stream decode speed against the memory-bandwidth ceiling: at batch 1 every token reads every
/// weight once, so bandwidth / weight bytes bounds tokens/s. Bandwidth is a large tensor copy measured
/// around each decode repetition. Weights are random: speed does not depend on what a model has learnt.
/// </summary>
public static class InferenceBenchmark
{
    // Decoding takes a second or two per repetition, recomputing 256 tokens of gpt2 most of a minute per pair.
    // Single pairs of gpt2 scatter 8.8-14.9x as the machine's read rate moves (the cached side reads memory, the
    // recomputed side multiplies), so the speed-up is the median of five.
    private const int DecodeRepetitions = 5;
    private const int RecomputePairs = 5;

    public static IReadOnlyList<InferenceBenchResult> Run(IReadOnlyList<string> presets, int tokens, int recomputeTokens, int[] streams, Action<string>? log = null)
    {
        var device = Devices.Resolve("cpu");
        double matvec = MeasureMatvec(device);
        log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"batch-1 matrix-vector product: {matvec / 1e9:F1} GB/s; {get_num_threads()} threads"));
        var tokenizer = SyntheticTokenizer(50257);
        var results = new List<InferenceBenchResult>();
        foreach (var name in presets)
        {
            var config = GptConfig.FromPreset(name);
            using var model = new Gpt(config, seed: 1);
            model.eval();
            using var sampler = new Sampler(model, tokenizer);
            double weightBytes = config.ParameterCount * 4.0;

            int n = Math.Min(tokens, config.BlockSize - 16);
            var options = new SamplingOptions { MaxNewTokens = n, Temperature = 0.8, TopK = 200, Seed = 7 };
            Decode(sampler, Prompt(16), options with { MaxNewTokens = 4 }); // warm-up
            // The copy bandwidth of this virtual machine swings by half between runs minutes apart, so each repetition
            // is set against the bandwidth measured right before and right after it, and the median fraction is taken.
            var decodes = new List<double>();
            var tokenMs = new List<double>();
            var fractions = new List<double>();
            var bandwidths = new List<double> { MeasureBandwidth(device) };
            for (int i = 0; i < DecodeRepetitions; i++)
            {
                var (_, rate, medianMs) = Decode(sampler, Prompt(16), options);
                bandwidths.Add(MeasureBandwidth(device));
                decodes.Add(rate);
                tokenMs.Add(medianMs);
                fractions.Add(rate / ((bandwidths[^2] + bandwidths[^1]) / 2 / weightBytes));
            }
            double decode = Stats.Median(decodes), bandwidth = Stats.Median(bandwidths);
            double ceiling = bandwidth / weightBytes;

            int longPrompt = Math.Min(512, config.BlockSize - 1);
            var (ttft, _, _) = Decode(sampler, Prompt(longPrompt), options with { MaxNewTokens = 1 });

            int r = Math.Min(recomputeTokens, config.BlockSize - 1);
            var speedups = new List<double>();
            for (int i = 0; i < (r > 0 ? RecomputePairs : 0); i++)
            {
                var quick = options with { MaxNewTokens = r };
                double Cached() => Time(() => Decode(sampler, Prompt(1), quick));
                double Recomputed() => Time(() => Decode(sampler, Prompt(1), quick with { UseKvCache = false }));
                // Which of the pair goes first alternates, so a machine getting busier or quieter favours neither.
                double cached, recomputed;
                if (i % 2 == 0) { cached = Cached(); recomputed = Recomputed(); }
                else { recomputed = Recomputed(); cached = Cached(); }
                speedups.Add(recomputed / cached);
            }
            double? speedup = speedups.Count > 0 ? Stats.Median(speedups) : null;

            var concurrent = new Dictionary<int, double>();
            foreach (int k in streams)
            {
                var sw = Stopwatch.StartNew();
                Parallel.For(0, k, new ParallelOptions { MaxDegreeOfParallelism = k }, i => Decode(sampler, Prompt(16), options with { Seed = (ulong)i }));
                concurrent[k] = k * n / sw.Elapsed.TotalSeconds;
            }

            var phases = MeasurePhases(model, sampler, options, decode, Stats.Median(tokenMs));
            var result = new InferenceBenchResult(name, config.ParameterCount, weightBytes / 1e6, get_num_threads(), bandwidth / 1e9,
                ceiling, decode, Stats.Median(fractions), longPrompt, ttft, r, speedup, concurrent)
            {
                MatvecGBps = matvec / 1e9, Phases = phases, Fractions = fractions, BandwidthsGBps = bandwidths.Select(b => b / 1e9).ToList(),
                RecomputeSpeedups = speedups,
            };
            results.Add(result);
            log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"{name}: {config.ParameterCount:N0} parameters ({weightBytes / 1e6:F0} MB): decode {decode:F1} tok/s (median of {Join(decodes, "F1")}); " +
                $"copy bandwidth {Join(bandwidths.Select(b => b / 1e9), "F1")} GB/s around them, ceiling {ceiling:F1} tok/s at the median; " +
                $"fraction {result.Fraction:P1} (median of {Join(fractions.Select(f => f * 100), "F1")} %); first token after {longPrompt} prompt tokens {ttft:F0} ms; " +
                $"{(speedup is null ? "" : $"KV cache {speedup:F1}× faster than recomputing {r} tokens (median of {Join(speedups, "F1")}); ")}" +
                $"concurrent: {string.Join(", ", concurrent.Select(c => $"{c.Key} → {c.Value:F1} tok/s"))}; " +
                $"per token: projections {phases.ProjectionsMs:F2} ms ({phases.ProjectionGBps:F1} GB/s), rest of forward {phases.OtherForwardMs:F2} ms, sampling {phases.SamplingMs:F2} ms, slow tokens {phases.SlowTokensMs:F2} ms"));
        }
        return results;
    }

    /// <summary>
    /// Splits a decoded token's time. The machine's read rate drifts within seconds, so the three are timed in turn,
    /// token by token: the sampler's whole step (one token of a generation after a 16-token prompt), a bare forward step
    /// on a KV cache of its own at the same position, and every fourth token the projections alone (every weight matrix
    /// once through the kernel the model uses). Sampling is what the sampler's median step adds to the median forward.
    /// </summary>
    private static DecodePhases MeasurePhases(Gpt model, Sampler sampler, SamplingOptions options, double decodeTokensPerSecond, double medianTokenMs)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var cache = new KvCache(model.Config, 1, CPU);
        using var decoder = Decoder.For(model); // what the sampler decodes with
        model.forward(tensor(Prompt(16).Select(i => (long)i).ToArray(), [1, 16]), cache, lastOnly: true);
        var weights = model.named_parameters().Where(p => p.parameter.dim() == 2 && p.name != "wpe.weight").Select(p => p.parameter).ToList();
        var inputs = weights.Select(w => randn([1, 1, w.shape[1]])).ToList(); // [1, 1, in]
        using var rows = new SingleRowLinear(useHelper: Environment.ProcessorCount > 1);
        int steps = Math.Min(64, model.Config.BlockSize - 17);
        using var tokens = sampler.Generate(Prompt(16), options with { MaxNewTokens = steps + 1 }).GetEnumerator();
        tokens.MoveNext(); // the prompt
        var stepMs = new List<double>();
        var forwardMs = new List<double>();
        var projectionMs = new List<double>();
        for (int i = 0; i < steps; i++)
        {
            var sw = Stopwatch.StartNew();
            if (!tokens.MoveNext()) break;
            stepMs.Add(sw.Elapsed.TotalMilliseconds);
            using (NewDisposeScope())
            {
                var next = tensor(new long[] { Prompt(i + 1)[i] }, [1, 1]);
                sw.Restart();
                _ = decoder?.Step(next, cache) ?? model.forward(next, cache, lastOnly: true);
                forwardMs.Add(sw.Elapsed.TotalMilliseconds);
            }
            if (i % 4 != 0) continue;
            using (NewDisposeScope())
            using (rows.BeginStep())
            {
                sw.Restart();
                for (int k = 0; k < weights.Count; k++) rows.Forward(inputs[k], weights[k], null);
                projectionMs.Add(sw.Elapsed.TotalMilliseconds);
            }
        }
        double step = Stats.Median(stepMs), forward = Stats.Median(forwardMs), projections = Stats.Median(projectionMs);
        double weightBytes = weights.Sum(w => w.NumberOfElements) * 4.0;
        return new DecodePhases(projections, forward - projections, step - forward, weightBytes / (projections / 1000) / 1e9)
        {
            SlowTokensMs = 1000 / decodeTokensPerSecond - medianTokenMs,
        };
    }

    /// <summary>(ms to the first token, tokens/s after it, the median ms between two tokens after it).</summary>
    private static (double FirstTokenMs, double TokensPerSecond, double MedianTokenMs) Decode(Sampler sampler, int[] prompt, SamplingOptions options)
    {
        var sw = Stopwatch.StartNew();
        double first = 0, previous = 0;
        var gaps = new List<double>();
        foreach (var _ in sampler.Generate(prompt, options))
        {
            double now = sw.Elapsed.TotalMilliseconds;
            if (previous == 0) first = now;
            else gaps.Add(now - previous);
            previous = now;
        }
        return (first, gaps.Count > 0 ? gaps.Count / ((previous - first) / 1000) : double.NaN, Stats.Median(gaps));
    }

    private static string Join(IEnumerable<double> values, string format) =>
        string.Join(" / ", values.Select(v => v.ToString(format, CultureInfo.InvariantCulture)));

    private static double Time(Action action)
    {
        var sw = Stopwatch.StartNew();
        action();
        return sw.Elapsed.TotalSeconds;
    }

    private static int[] Prompt(int length) => Enumerable.Range(0, length).Select(i => (i * 7919 + 13) % 50000).ToArray();

    /// <summary>Median bytes/s of reading a 154 MB weight matrix once in a [1, 768] × [768, 50257] product.</summary>
    public static double MeasureMatvec(Device device)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var weight = randn([50257, 768], device: device);
        var x = randn([1, 768], device: device);
        var rates = new List<double>();
        for (int i = 0; i < 9; i++)
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            using (nn.functional.linear(x, weight)) MatmulCeiling.Synchronize(device);
            if (i > 1) rates.Add(weight.NumberOfElements * 4.0 / sw.Elapsed.TotalSeconds);
        }
        return Stats.Median(rates);
    }

    /// <summary>Median bytes/s of copying a 256 MB tensor (each copy reads and writes every byte).</summary>
    public static double MeasureBandwidth(Device device)
    {
        using var scope = NewDisposeScope();
        long elements = 64L * 1024 * 1024;
        var source = ones(elements, device: device);
        var target = empty(elements, device: device);
        target.copy_(source);
        var rates = new List<double>();
        for (int i = 0; i < 7; i++)
        {
            var sw = Stopwatch.StartNew();
            target.copy_(source);
            MatmulCeiling.Synchronize(device);
            rates.Add(2.0 * elements * 4 / sw.Elapsed.TotalSeconds);
        }
        return Stats.Median(rates);
    }

    /// <summary>A stand-in for GPT-2's tokenizer with the same vocabulary size, so the benchmark needs no files.</summary>
    private static Tokenizer SyntheticTokenizer(int size) =>
        new CharTokenizer(new string(Enumerable.Range(0x100, size + 0x800).Where(c => c is < 0xD800 or > 0xDFFF).Take(size).Select(c => (char)c).ToArray()));
}
