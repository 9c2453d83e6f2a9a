using WebLlm.Contracts;

namespace WebLlm.Client.Components;

/// <summary>
/// The new-run form's values and its client-side rules. Field keys are the camelCase names of
/// <see cref="CreateRunRequest"/>, the same keys the server's ValidationProblemDetails uses, so client and server
/// errors land on the same field. Blank training fields mean "the preset's default".
/// </summary>
public sealed class NewRunModel
{
    public string? Name { get; set; }
    public string Preset { get; set; } = "tiny";
    public int? NLayer { get; set; } = 4;
    public int? NHead { get; set; } = 4;
    public int? NEmbd { get; set; } = 128;
    public int? BlockSize { get; set; } = 64;
    public double? Dropout { get; set; }
    public int? DatasetId { get; set; }
    public int? MaxSteps { get; set; }
    public int? BatchSize { get; set; }
    public int? GradAccum { get; set; }
    public double? LearningRate { get; set; }
    public double? MinLearningRate { get; set; }
    public int? WarmupSteps { get; set; }
    public double? WeightDecay { get; set; }
    public double? GradClip { get; set; }
    public int? EvalEvery { get; set; }
    public int? SampleEvery { get; set; }
    public int? CheckpointEvery { get; set; }
    public string SamplePrompts { get; set; } = "";
    public long? Seed { get; set; }

    public void ApplyPreset(PresetDto preset)
    {
        Preset = preset.Name;
        NLayer = preset.NLayer;
        NHead = preset.NHead;
        NEmbd = preset.NEmbd;
        BlockSize = preset.BlockSize;
    }

    /// <summary>
    /// Field key → the first message of every rule the values break: the rules the server checks too
    /// (<see cref="RunRules"/>; its caps are its own, so they come back in its answer), the shape fields this form
    /// requires, and a dataset that is not ready yet.
    /// </summary>
    public Dictionary<string, string> Validate(DatasetDto? dataset)
    {
        var errors = RunRules.Check(ToRequest(), limits: null, dataset?.ValTokens).ToDictionary(e => e.Key, e => e.Value[0]);
        void Required(string key, int? value, string what)
        {
            if (value is null) errors[key] = $"{what} is required.";
        }
        Required("nLayer", NLayer, "Layers");
        Required("nHead", NHead, "Heads");
        Required("nEmbd", NEmbd, "Width (n_embd)");
        Required("blockSize", BlockSize, "Context (block size)");
        if (dataset is { Status: not DatasetStatus.Ready }) errors["datasetId"] = $"Dataset '{dataset.Name}' is {dataset.Status}, not ready.";
        return errors;
    }

    public CreateRunRequest ToRequest() => new()
    {
        Name = string.IsNullOrWhiteSpace(Name) ? null : Name.Trim(),
        Preset = Preset,
        NLayer = NLayer,
        NHead = NHead,
        NEmbd = NEmbd,
        BlockSize = BlockSize,
        Dropout = Dropout,
        DatasetId = DatasetId,
        MaxSteps = MaxSteps,
        BatchSize = BatchSize,
        GradAccum = GradAccum,
        LearningRate = LearningRate,
        MinLearningRate = MinLearningRate,
        WarmupSteps = WarmupSteps,
        WeightDecay = WeightDecay,
        GradClip = GradClip,
        EvalEvery = EvalEvery,
        SampleEvery = SampleEvery,
        CheckpointEvery = CheckpointEvery,
        SamplePrompts = Prompts() is { Count: > 0 } prompts ? prompts : null,
        Seed = Seed,
    };

    private List<string> Prompts() =>
        [.. SamplePrompts.Split('\n').Select(p => p.TrimEnd('\r')).Where(p => p.Length > 0)];
}

/// <summary>Parameter count and rough memory / step-time estimates of a GPT-2 shape, as the form shows them.</summary>
public static class ModelMath
{
    /// <summary>Assumed sustained training FLOP/s when no run has been measured yet (2 CPU cores, small matrices).</summary>
    public const double AssumedFlops = 20e9;
    /// <summary>The server's default batch size, for estimates while the field is blank.</summary>
    public const int AssumedBatch = 12;

    /// <summary>GPT-2 with a tied head: 12·L·C² + 13·L·C + V·C + T·C + 2·C (124,439,808 for GPT-2 small).</summary>
    public static long Parameters(int layers, int width, int context, int vocab, bool bias = true)
    {
        long l = layers, c = width;
        var total = 12 * l * c * c + 13 * l * c + (long)vocab * c + (long)context * c + 2 * c;
        return bias ? total : total - l * 11 * c - c;
    }

    /// <summary>
    /// Weights, gradients and both Adam moments in fp32 (16 bytes a parameter), plus the activations of one
    /// micro-batch kept for backward: per layer about 34·T·C + 5·H·T² floats a sequence (Korthikanti et al.) and
    /// the logits; the same rough rule the server checks against its memory budget.
    /// </summary>
    public static double TrainingBytes(long parameters, int layers, int heads, int width, int context, int vocab, int batch)
    {
        double t = context, c = width;
        var perSequence = layers * (34 * t * c + 5.0 * heads * t * t) + 2 * t * vocab;
        return 16.0 * parameters + 4.0 * batch * perSequence;
    }

    /// <summary>6·N FLOPs per token (forward + backward) over the FLOP/s.</summary>
    public static double StepSeconds(long parameters, long tokensPerStep, double flops) => 6.0 * parameters * tokensPerStep / flops;

    /// <summary>Effective FLOP/s a finished or running run reached, from its size and tokens/s.</summary>
    public static double? MeasuredFlops(IEnumerable<RunDto> runs) => runs
        .Where(r => r.TokensPerSecond is > 0)
        .OrderByDescending(r => r.Id)
        .Select(r => (double?)(6.0 * r.Model.ParameterCount * r.TokensPerSecond!.Value))
        .FirstOrDefault();
}
