using WebLlm.Contracts;
using WebLlm.Server.Persistence;
using WebLlm.Training.Model;
using WebLlm.Training.Loop;

namespace WebLlm.Server.Runs;

/// <summary>
/// Turns a <see cref="CreateRunRequest"/> into a full model shape and training config, or field errors keyed
/// by the request's camelCase property names. Pure arithmetic: nothing is allocated for a rejected run.
/// </summary>
public sealed class RunValidator(RunLimits limits)
{
    private readonly Dictionary<string, List<string>> errors = [];

    public IDictionary<string, string[]> Errors => errors.ToDictionary(e => e.Key, e => e.Value.ToArray());

    public (GptConfig Model, TrainingConfigDto Training)? Validate(CreateRunRequest r, DatasetEntity dataset)
    {
        if (!GptConfig.Presets.TryGetValue(r.Preset, out var preset))
        {
            Add("preset", $"unknown preset '{r.Preset}'; known presets: {string.Join(", ", GptConfig.Presets.Keys)}");
            preset = GptConfig.FromPreset("tiny"); // keep checking the other fields against something
        }
        var defaults = new TrainOptions();
        var model = preset with
        {
            NLayer = r.NLayer ?? preset.NLayer,
            NHead = r.NHead ?? preset.NHead,
            NEmbd = r.NEmbd ?? preset.NEmbd,
            BlockSize = r.BlockSize ?? preset.BlockSize,
            Dropout = r.Dropout ?? preset.Dropout,
            Bias = r.Bias ?? preset.Bias,
            VocabSize = dataset.VocabSize ?? preset.VocabSize,
        };
        Range("nLayer", model.NLayer, 1, limits.MaxLayers, "n_layer");
        Range("nHead", model.NHead, 1, model.NEmbd > 0 ? model.NEmbd : int.MaxValue, "n_head");
        Range("nEmbd", model.NEmbd, 1, limits.MaxEmbd, "n_embd");
        if (model.NHead >= 1 && model.NEmbd >= 1 && model.NEmbd % model.NHead != 0)
            Add("nHead", $"n_embd ({model.NEmbd}) must be divisible by n_head ({model.NHead})");
        Range("blockSize", model.BlockSize, 1, limits.MaxBlockSize, "block size");
        if (model.BlockSize >= 1 && dataset.ValTokens is long val && model.BlockSize >= val)
            Add("blockSize", $"block size ({model.BlockSize}) must be smaller than the dataset's validation split ({val} tokens)");
        if (!(model.Dropout >= 0 && model.Dropout < 1)) Add("dropout", $"dropout must be in [0, 1) (got {model.Dropout})");

        var t = new TrainingConfigDto(
            MaxSteps: r.MaxSteps ?? defaults.MaxSteps,
            BatchSize: r.BatchSize ?? defaults.BatchSize,
            BlockSize: model.BlockSize,
            GradAccum: r.GradAccum ?? defaults.GradAccumSteps,
            LearningRate: r.LearningRate ?? defaults.LearningRate,
            MinLearningRate: r.MinLearningRate ?? (r.LearningRate ?? defaults.LearningRate) / 10,
            WarmupSteps: r.WarmupSteps ?? Math.Min(defaults.WarmupSteps, (r.MaxSteps ?? defaults.MaxSteps) / 10),
            WeightDecay: r.WeightDecay ?? defaults.WeightDecay,
            GradClip: r.GradClip ?? defaults.GradClip,
            EvalEvery: r.EvalEvery ?? defaults.EvalEvery,
            EvalBatches: r.EvalBatches ?? defaults.EvalBatches,
            SampleEvery: r.SampleEvery ?? defaults.SampleEvery,
            SampleTokens: r.SampleTokens ?? defaults.SampleTokens,
            CheckpointEvery: r.CheckpointEvery ?? defaults.CheckpointEvery,
            SamplePrompts: r.SamplePrompts ?? defaults.SamplePrompts,
            Seed: r.Seed ?? defaults.Seed);
        Range("maxSteps", t.MaxSteps, 1, limits.MaxSteps, "max steps");
        Range("batchSize", t.BatchSize, 1, limits.MaxBatchSize, "batch size");
        Range("gradAccum", t.GradAccum, 1, limits.MaxGradAccum, "gradient accumulation");
        if (!double.IsFinite(t.LearningRate) || t.LearningRate <= 0 || t.LearningRate > 1)
            Add("learningRate", $"learning rate must be positive, finite and at most 1 (got {t.LearningRate})");
        else if (!double.IsFinite(t.MinLearningRate) || t.MinLearningRate < 0 || t.MinLearningRate > t.LearningRate)
            Add("minLearningRate", $"min learning rate must be between 0 and the learning rate {t.LearningRate} (got {t.MinLearningRate})");
        Range("warmupSteps", t.WarmupSteps, 0, Math.Max(0, t.MaxSteps), "warmup steps");
        if (!double.IsFinite(t.WeightDecay) || t.WeightDecay < 0) Add("weightDecay", $"weight decay must be 0 or more and finite (got {t.WeightDecay})");
        if (!double.IsFinite(t.GradClip) || t.GradClip < 0) Add("gradClip", $"gradient clip must be 0 (off) or positive and finite (got {t.GradClip})");
        Range("evalEvery", t.EvalEvery, 0, int.MaxValue, "eval every (0 = off)");
        Range("evalBatches", t.EvalBatches, 1, 10_000, "eval batches");
        Range("sampleEvery", t.SampleEvery, 0, int.MaxValue, "sample every (0 = off)");
        Range("sampleTokens", t.SampleTokens, 1, limits.MaxSampleTokens, "sample tokens");
        Range("checkpointEvery", t.CheckpointEvery, 0, int.MaxValue, "checkpoint every (0 = only at the end)");
        if (t.SamplePrompts.Count > limits.MaxSamplePrompts) Add("samplePrompts", $"at most {limits.MaxSamplePrompts} sample prompts (got {t.SamplePrompts.Count})");
        if (t.SamplePrompts.Any(string.IsNullOrEmpty)) Add("samplePrompts", "sample prompts must not be empty");
        if (r.Name is { Length: > 100 }) Add("name", $"name must be at most 100 characters (got {r.Name.Length})");

        if (errors.Count == 0) CheckSize(model, t);
        return errors.Count == 0 ? (model, t) : null;
    }

    /// <summary>Parameters against the cap, and a rough training-memory estimate against the budget.</summary>
    private void CheckSize(GptConfig model, TrainingConfigDto t)
    {
        long parameters = model.ParameterCount;
        if (parameters > limits.MaxParameters)
        {
            Add("nEmbd", $"the model would have {parameters:N0} parameters; the limit is {limits.MaxParameters:N0} (WebLlm:Limits:MaxParameters)");
            return;
        }
        long bytes = EstimateTrainingBytes(model, t.BatchSize);
        if (bytes > limits.MemoryBudgetBytes)
            Add("batchSize", $"training would need about {bytes / (1 << 20):N0} MiB; the budget is {limits.MemoryBudgetBytes / (1 << 20):N0} MiB (WebLlm:Limits:MemoryBudgetBytes): lower the batch size, context or model size");
    }

    /// <summary>
    /// fp32 weights, gradients and two AdamW moments (16 bytes a parameter) plus activations kept for the
    /// backward pass: per layer about 34·T·C + 5·H·T² floats per sequence (Korthikanti et al.), and the logits.
    /// </summary>
    public static long EstimateTrainingBytes(GptConfig m, int batchSize)
    {
        double t = m.BlockSize, c = m.NEmbd;
        double perSequence = m.NLayer * (34 * t * c + 5 * m.NHead * t * t) + 2 * t * m.VocabSize;
        return (long)Math.Min(long.MaxValue, 16.0 * m.ParameterCount + 4 * batchSize * perSequence);
    }

    private void Range(string field, int value, int min, int max, string what)
    {
        if (value < min || value > max)
            Add(field, max == int.MaxValue ? $"{what} must be at least {min} (got {value})" : $"{what} must be between {min} and {max} (got {value})");
    }

    private void Add(string field, string message)
    {
        if (!errors.TryGetValue(field, out var list)) errors[field] = list = [];
        list.Add(message);
    }
}
