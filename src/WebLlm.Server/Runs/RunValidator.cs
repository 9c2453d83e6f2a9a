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
        // The values as resolved, through the rules the form checks too, with this server's caps.
        var resolved = r with
        {
            NLayer = model.NLayer, NHead = model.NHead, NEmbd = model.NEmbd, BlockSize = model.BlockSize, Dropout = model.Dropout,
            MaxSteps = t.MaxSteps, BatchSize = t.BatchSize, GradAccum = t.GradAccum, LearningRate = t.LearningRate,
            MinLearningRate = t.MinLearningRate, WarmupSteps = t.WarmupSteps, WeightDecay = t.WeightDecay, GradClip = t.GradClip,
            EvalEvery = t.EvalEvery, EvalBatches = t.EvalBatches, SampleEvery = t.SampleEvery, SampleTokens = t.SampleTokens,
            CheckpointEvery = t.CheckpointEvery, SamplePrompts = t.SamplePrompts,
        };
        foreach (var (field, messages) in RunRules.Check(resolved, limits, dataset.ValTokens))
            foreach (var message in messages) Add(field, message);

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

    private void Add(string field, string message)
    {
        if (!errors.TryGetValue(field, out var list)) errors[field] = list = [];
        list.Add(message);
    }
}
