using System.Text.Json.Serialization;

namespace WebLlm.Contracts;

/// <summary>Life cycle of a run. Serialized as these exact strings.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RunStatus>))]
public enum RunStatus { Queued, Running, Paused, Completed, Stopped, Failed, Interrupted }

/// <summary>
/// <c>POST /api/runs</c>. Only <see cref="Preset"/> is required; every unset field takes the preset's
/// default. Model overrides replace the preset's shape; the vocabulary always comes from the dataset.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)] // a misspelt setting is a 400, not a silent default
public sealed record CreateRunRequest
{
    public string? Name { get; init; }
    public string Preset { get; init; } = "tiny";
    public int? NLayer { get; init; }
    public int? NHead { get; init; }
    public int? NEmbd { get; init; }
    public int? BlockSize { get; init; }
    public double? Dropout { get; init; }
    public bool? Bias { get; init; }
    /// <summary>Null means the built-in corpus.</summary>
    public int? DatasetId { get; init; }
    public int? MaxSteps { get; init; }
    public int? BatchSize { get; init; }
    public int? GradAccum { get; init; }
    public double? LearningRate { get; init; }
    public double? MinLearningRate { get; init; }
    public int? WarmupSteps { get; init; }
    public double? WeightDecay { get; init; }
    public double? GradClip { get; init; }
    public int? EvalEvery { get; init; }
    public int? EvalBatches { get; init; }
    public int? SampleEvery { get; init; }
    public int? SampleTokens { get; init; }
    public int? CheckpointEvery { get; init; }
    public IReadOnlyList<string>? SamplePrompts { get; init; }
    public long? Seed { get; init; }
    /// <summary>
    /// Start from the weights of this run's newest checkpoint (or <see cref="InitFromStep"/>) instead of a fresh
    /// model: fine-tuning, nanoGPT's init_from. The model's shape is that checkpoint's; the dataset must use its tokenizer.
    /// </summary>
    public int? InitFromRunId { get; init; }
    public long? InitFromStep { get; init; }
}

/// <summary>The model shape of a run (GPT-2 names).</summary>
public sealed record ModelConfigDto(int NLayer, int NHead, int NEmbd, int BlockSize, int VocabSize, double Dropout, bool Bias, long ParameterCount);

/// <summary>Every hyper-parameter and cadence a run trains with, after defaults were applied.</summary>
public sealed record TrainingConfigDto(
    int MaxSteps, int BatchSize, int BlockSize, int GradAccum, double LearningRate, double MinLearningRate,
    int WarmupSteps, double WeightDecay, double GradClip, int EvalEvery, int EvalBatches, int SampleEvery,
    int SampleTokens, int CheckpointEvery, IReadOnlyList<string> SamplePrompts, long Seed);

public sealed record RunDto
{
    public required int Id { get; init; }
    public required string Name { get; init; }
    public required string Preset { get; init; }
    public required ModelConfigDto Model { get; init; }
    public required TrainingConfigDto Training { get; init; }
    public required int DatasetId { get; init; }
    public string? DatasetName { get; init; }
    public required RunStatus Status { get; init; }
    public string? StatusReason { get; init; }
    public string? Device { get; init; }
    public required DateTime CreatedUtc { get; init; }
    public DateTime? StartedUtc { get; init; }
    public DateTime? EndedUtc { get; init; }
    /// <summary>Seconds spent training (excludes time queued or paused).</summary>
    public double ElapsedSeconds { get; init; }
    public long CurrentStep { get; init; }
    public double? LastLoss { get; init; }
    public double? LastValLoss { get; init; }
    public double? BestValLoss { get; init; }
    public double? TokensPerSecond { get; init; }
    public double? Mfu { get; init; }
    /// <summary>Estimated seconds to MaxSteps at the recent speed; null when not running.</summary>
    public double? EtaSeconds { get; init; }
    public long? LatestCheckpointStep { get; init; }
    /// <summary>The engine of an external run (e.g. "llm.c"); null for runs WebLlm trains itself.</summary>
    public string? Engine { get; init; }
    /// <summary>Steps whose update was skipped because the loss or gradient norm was not finite (shown, never hidden).</summary>
    public long SkippedSteps { get; init; }
    /// <summary>
    /// The checkpoint step the latest (re)start continued from; null for a run that started at step 0. Lower than the
    /// newest checkpoint the run had when a newer one failed verification (see <see cref="CheckpointDto.Corrupt"/>).
    /// </summary>
    public long? ResumedFromStep { get; init; }
}

/// <summary>A stored status change, with why it happened.</summary>
public sealed record RunTransitionDto(RunStatus? From, RunStatus To, string Reason, DateTime Utc);

/// <summary>
/// One optimizer step. Non-finite values are null with <see cref="NonFinite"/> set: JSON has no NaN.
/// <see cref="ElapsedSeconds"/> is training wall time at the end of the step (for a wall-time x axis).
/// </summary>
public sealed record StepMetricDto(
    long Step, double? Loss, double? LearningRate, double? GradNorm, double? TokensPerSecond,
    double? Milliseconds, double? Mfu, long TokensSeen, double ElapsedSeconds, bool NonFinite);

/// <summary>
/// <c>GET /api/runs/{id}/metrics</c>. With maxPoints, each bucket of steps is reduced to its minimum and
/// maximum loss points (both kept, in step order), so spikes survive downsampling.
/// </summary>
public sealed record MetricsPage(int RunId, long FromStep, long ToStep, bool Downsampled, IReadOnlyList<StepMetricDto> Steps);

public sealed record EvalDto(long Step, double? ValLoss, DateTime Utc);

public sealed record SampleDto(long Step, string Prompt, string Text, DateTime Utc);

public sealed record CheckpointDto(long Step, long SizeBytes, string Sha256, double? ValLoss, DateTime Utc)
{
    /// <summary>The files failed verification on load (checksum mismatch, truncated, missing); the run fell back to an older checkpoint.</summary>
    public bool Corrupt { get; init; }
}

/// <summary>Server process resources, sampled every few seconds while a run trains.</summary>
public sealed record SystemMetricDto(DateTime Utc, double CpuPercent, long ResidentBytes, long GcHeapBytes, double? GpuPercent, long? GpuMemoryBytes);

/// <summary><c>GET /api/presets</c>: a preset's shape and its parameter count at GPT-2's vocabulary.</summary>
public sealed record PresetDto(string Name, int NLayer, int NHead, int NEmbd, int BlockSize, long ParameterCount);
