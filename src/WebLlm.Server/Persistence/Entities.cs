using WebLlm.Contracts;

namespace WebLlm.Server.Persistence;

public sealed class RunEntity
{
    public int Id { get; set; }
    public required string Name { get; set; }
    public required string Preset { get; set; }
    /// <summary><see cref="ModelConfigDto"/> as JSON: the full shape, overrides applied.</summary>
    public required string ModelConfigJson { get; set; }
    /// <summary><see cref="TrainingConfigDto"/> as JSON: every hyper-parameter after defaults.</summary>
    public required string TrainingConfigJson { get; set; }
    /// <summary>No foreign key: a finished run outlives the dataset it was trained on (its name is kept below).</summary>
    public int DatasetId { get; set; }
    public string? DatasetName { get; set; }
    public RunStatus Status { get; set; }
    public string? StatusReason { get; set; }
    public string? Device { get; set; }
    public DateTime CreatedUtc { get; set; }
    public DateTime? StartedUtc { get; set; }
    public DateTime? EndedUtc { get; set; }
    public double ElapsedSeconds { get; set; }
    public long CurrentStep { get; set; }
    public double? LastLoss { get; set; }
    public double? LastValLoss { get; set; }
    public double? BestValLoss { get; set; }
    public double? TokensPerSecond { get; set; }
    public double? Mfu { get; set; }
    public long? LatestCheckpointStep { get; set; }
    /// <summary>The engine of an external run (metrics ingested, not trained here); null for WebLlm's own runs.</summary>
    public string? Engine { get; set; }
    /// <summary>Where an external run's metrics come from (a log path), for display.</summary>
    public string? Source { get; set; }
    /// <summary>The checkpoint folder a fine-tuning run starts from; null for a run from scratch.</summary>
    public string? InitFromCheckpoint { get; set; }
    public long SkippedSteps { get; set; }
    public long? ResumedFromStep { get; set; }
}

/// <summary>One optimizer step. Non-finite values are NULL with <see cref="NonFinite"/> set.</summary>
public sealed class StepMetricEntity
{
    public long Id { get; set; }
    public int RunId { get; set; }
    public long Step { get; set; }
    public double? Loss { get; set; }
    public double? LearningRate { get; set; }
    public double? GradNorm { get; set; }
    public double? TokensPerSecond { get; set; }
    public double? Milliseconds { get; set; }
    public double? Mfu { get; set; }
    public long TokensSeen { get; set; }
    public double ElapsedSeconds { get; set; }
    public bool NonFinite { get; set; }
    public bool Skipped { get; set; }
}

public sealed class EvalEntity
{
    public long Id { get; set; }
    public int RunId { get; set; }
    public long Step { get; set; }
    public double? ValLoss { get; set; }
    public bool NonFinite { get; set; }
    public DateTime Utc { get; set; }
}

public sealed class SampleEntity
{
    public long Id { get; set; }
    public int RunId { get; set; }
    public long Step { get; set; }
    public required string Prompt { get; set; }
    public required string Text { get; set; }
    public DateTime Utc { get; set; }
}

public sealed class CheckpointEntity
{
    public long Id { get; set; }
    public int RunId { get; set; }
    public long Step { get; set; }
    public required string Path { get; set; }
    public long SizeBytes { get; set; }
    public required string Sha256 { get; set; }
    public double? ValLoss { get; set; }
    public DateTime Utc { get; set; }
    /// <summary>Failed verification on load; the folder was renamed to step_N.corrupt.</summary>
    public bool Corrupt { get; set; }
}

public sealed class DatasetEntity
{
    public int Id { get; set; }
    public required string Name { get; set; }
    public required string Source { get; set; }
    public required string Tokenizer { get; set; }
    public DatasetStatus Status { get; set; }
    public string? Error { get; set; }
    public int? VocabSize { get; set; }
    public long? TrainTokens { get; set; }
    public long? ValTokens { get; set; }
    public long SourceBytes { get; set; }
    /// <summary>The prepared folder (train.bin, val.bin, meta.json).</summary>
    public required string Directory { get; set; }
    /// <summary>Raw uploaded .txt files; null for the built-in corpus.</summary>
    public string? UploadDirectory { get; set; }
    public bool Builtin { get; set; }
    public DateTime CreatedUtc { get; set; }
    /// <summary>For a bpe tokenizer: the vocabulary asked for (the prepared one is <see cref="VocabSize"/>, at most this).</summary>
    public int? BpeVocabSize { get; set; }
    /// <summary>For a bpe tokenizer: its split pattern, gpt2 or gpt4.</summary>
    public string? BpeSplit { get; set; }
    /// <summary>For a bpe tokenizer: whether the chat special tokens are added.</summary>
    public bool BpeChatTokens { get; set; }
    /// <summary>UTF-8 bytes of the validation text (what <see cref="ValTokens"/> encode); null for datasets prepared before it was kept.</summary>
    public long? ValBytes { get; set; }
}

public sealed class RunTransitionEntity
{
    public long Id { get; set; }
    public int RunId { get; set; }
    public RunStatus? From { get; set; }
    public RunStatus To { get; set; }
    public required string Reason { get; set; }
    public DateTime Utc { get; set; }
}

public sealed class SystemMetricEntity
{
    public long Id { get; set; }
    public int RunId { get; set; }
    public DateTime Utc { get; set; }
    public double CpuPercent { get; set; }
    public long ResidentBytes { get; set; }
    public long GcHeapBytes { get; set; }
    public double? GpuPercent { get; set; }
    public long? GpuMemoryBytes { get; set; }
}
