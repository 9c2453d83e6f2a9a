using System.Globalization;

namespace WebLlm.Contracts;

/// <summary>
/// What a server accepts for a new run (<c>WebLlm:Limits</c> in its settings). The defaults are the server's; the form does
/// not know a server's own caps, so it leaves them to the server's answer.
/// </summary>
public sealed class RunLimits
{
    public int MaxLayers { get; set; } = 48;
    public int MaxEmbd { get; set; } = 1600;
    public int MaxBlockSize { get; set; } = 1024;
    public int MaxBatchSize { get; set; } = 512;
    public int MaxGradAccum { get; set; } = 1024;
    public int MaxSteps { get; set; } = 1_000_000;
    public long MaxParameters { get; set; } = 2_000_000_000;
    /// <summary>Estimated training memory (weights, gradients, AdamW moments, activations) a run may need.</summary>
    public long MemoryBudgetBytes { get; set; } = 16L * 1024 * 1024 * 1024;
    public int MaxSamplePrompts { get; set; } = 8;
    public int MaxSampleTokens { get; set; } = 2000;
}

/// <summary>
/// The rules a new run's values must keep, written once: the new-run form checks them as the user types (values left
/// blank are the server's defaults and are not checked; no caps), and the server checks the values it resolved from the
/// request and the preset, with its <see cref="RunLimits"/>. Field keys are <see cref="CreateRunRequest"/>'s camelCase
/// names, so an error lands on the same field whichever side found it.
/// </summary>
public static class RunRules
{
    public const int MaxNameLength = 100;
    public const int MaxEvalBatches = 10_000;

    /// <summary>Field key → every message for the rules <paramref name="v"/> breaks.</summary>
    /// <param name="limits">The server's caps; null checks everything else (the form).</param>
    /// <param name="valTokens">Tokens in the dataset's validation split, when known: the context must be shorter.</param>
    public static Dictionary<string, List<string>> Check(CreateRunRequest v, RunLimits? limits = null, long? valTokens = null)
    {
        var errors = new Dictionary<string, List<string>>();
        void Add(string field, string message)
        {
            if (!errors.TryGetValue(field, out var list)) errors[field] = list = [];
            list.Add(message);
        }
        void Range(string field, int? value, int min, int? max, string what)
        {
            if (value is not { } x || (x >= min && x <= (max ?? int.MaxValue))) return;
            Add(field, max is null
                ? Invariant($"{what} must be at least {min} (got {x})")
                : Invariant($"{what} must be between {min} and {max} (got {x})"));
        }
        static bool NonNegative(double x) => double.IsFinite(x) && x >= 0;

        Range("nLayer", v.NLayer, 1, limits?.MaxLayers, "n_layer");
        Range("nHead", v.NHead, 1, v.NEmbd > 0 ? v.NEmbd : null, "n_head");
        Range("nEmbd", v.NEmbd, 1, limits?.MaxEmbd, "n_embd");
        if (v.NHead >= 1 && v.NEmbd >= 1 && v.NEmbd % v.NHead != 0)
            Add("nHead", Invariant($"n_embd ({v.NEmbd}) must be divisible by n_head ({v.NHead})"));
        Range("blockSize", v.BlockSize, 1, limits?.MaxBlockSize, "block size");
        if (v.BlockSize >= 1 && valTokens is long val && v.BlockSize >= val)
            Add("blockSize", Invariant($"block size ({v.BlockSize}) must be smaller than the dataset's validation split ({val} tokens)"));
        if (v.Dropout is { } dropout && !(dropout >= 0 && dropout < 1)) Add("dropout", Invariant($"dropout must be in [0, 1) (got {dropout})"));

        Range("maxSteps", v.MaxSteps, 1, limits?.MaxSteps, "max steps");
        Range("batchSize", v.BatchSize, 1, limits?.MaxBatchSize, "batch size");
        Range("gradAccum", v.GradAccum, 1, limits?.MaxGradAccum, "gradient accumulation");
        if (v.LearningRate is { } lr && (!double.IsFinite(lr) || lr <= 0 || lr > 1))
            Add("learningRate", Invariant($"learning rate must be positive, finite and at most 1 (got {lr})"));
        else if (v.MinLearningRate is { } min && (!NonNegative(min) || min > (v.LearningRate ?? double.PositiveInfinity)))
            Add("minLearningRate", v.LearningRate is { } of
                ? Invariant($"min learning rate must be between 0 and the learning rate {of} (got {min})")
                : Invariant($"min learning rate must be 0 or more and finite (got {min})"));
        Range("warmupSteps", v.WarmupSteps, 0, v.MaxSteps is { } steps ? Math.Max(0, steps) : null, "warmup steps");
        if (v.WeightDecay is { } wd && !NonNegative(wd)) Add("weightDecay", Invariant($"weight decay must be 0 or more and finite (got {wd})"));
        if (v.GradClip is { } clip && !NonNegative(clip)) Add("gradClip", Invariant($"gradient clip must be 0 (off) or positive and finite (got {clip})"));
        Range("evalEvery", v.EvalEvery, 0, null, "eval every (0 = off)");
        Range("evalBatches", v.EvalBatches, 1, MaxEvalBatches, "eval batches");
        Range("sampleEvery", v.SampleEvery, 0, null, "sample every (0 = off)");
        Range("sampleTokens", v.SampleTokens, 1, limits?.MaxSampleTokens, "sample tokens");
        Range("checkpointEvery", v.CheckpointEvery, 0, null, "checkpoint every (0 = only at the end)");
        if (v.SamplePrompts is { } prompts)
        {
            if (limits is not null && prompts.Count > limits.MaxSamplePrompts)
                Add("samplePrompts", Invariant($"at most {limits.MaxSamplePrompts} sample prompts (got {prompts.Count})"));
            if (prompts.Any(string.IsNullOrEmpty)) Add("samplePrompts", "sample prompts must not be empty");
        }
        if (v.Name is { Length: > MaxNameLength }) Add("name", Invariant($"name must be at most {MaxNameLength} characters (got {v.Name.Length})"));
        return errors;
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
