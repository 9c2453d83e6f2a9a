using WebLlm.Contracts;
using WebLlm.Training.Checkpoints;

namespace WebLlm.Server.Live;

/// <summary>
/// What the training thread (and the command handlers) produce. Events go through <see cref="MetricWriter"/>
/// in order; the writer commits them, then hands them to <see cref="Broadcaster"/>. Pushing only what is
/// committed is what makes "REST history, then the live stream" gap-free for a late joiner.
/// </summary>
public abstract record RunEvent(int RunId);

public sealed record StepEvent(int RunId, StepMetricDto Metric, bool Skipped) : RunEvent(RunId);

public sealed record EvalEvent(int RunId, EvalDto Eval) : RunEvent(RunId);

public sealed record SampleEvent(int RunId, SampleDto Sample) : RunEvent(RunId);

/// <summary>Written by the training thread; the writer hashes the files off that thread.</summary>
public sealed record CheckpointWritten(int RunId, CheckpointInfo Info, DateTime Utc) : RunEvent(RunId);

/// <summary>A checkpoint after its row (with SHA-256) is committed.</summary>
public sealed record CheckpointSaved(int RunId, CheckpointDto Checkpoint) : RunEvent(RunId);

/// <summary>
/// A (re)start continued from <see cref="ResumedFrom"/> (null: step 0) because newer checkpoints failed verification
/// (or none did, with an empty list): flags them, drops rows after the step used and records it on the run.
/// </summary>
public sealed record ResumedEvent(int RunId, long? ResumedFrom, IReadOnlyList<CorruptCheckpoint> Corrupt) : RunEvent(RunId);

public sealed record SystemEvent(int RunId, SystemMetricDto Metric) : RunEvent(RunId);

/// <summary>An event someone waits for: <see cref="Committed"/> completes once it, and everything posted before it, is in the database.</summary>
public abstract record AwaitedEvent(int RunId) : RunEvent(RunId)
{
    public TaskCompletionSource Committed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>A status change.</summary>
public sealed record TransitionEvent(int RunId, RunStatus? From, RunStatus To, string Reason, DateTime Utc) : AwaitedEvent(RunId)
{
    /// <summary>Set when a run (re)starts: rows after this step are leftovers of a replayed stretch and are removed.</summary>
    public long? ResetAfterStep { get; init; }
    public string? Device { get; init; }
}

/// <summary>
/// Nothing to write: committed once everything posted before it is. A checkpoint waits for one before its folder is
/// written, so it is never ahead of the stored steps: after a crash the run resumes from its newest checkpoint and keeps
/// the rows up to it, and rows still waiting in the writer's gather window would have left a hole there.
/// </summary>
public sealed record FlushEvent(int RunId) : AwaitedEvent(RunId);

/// <summary>
/// For the broadcaster only: a run's status changed but the full disk keeps it out of the database; push the stored
/// run with this status, as <see cref="MetricWriter.Live"/> shows it to REST.
/// </summary>
public sealed record UnwrittenStatus(TransitionEvent Transition) : RunEvent(Transition.RunId);

/// <summary>Non-finite doubles become null: JSON has no NaN, and SQLite would store NaN as NULL anyway without saying so.</summary>
public static class Finite
{
    public static double? OrNull(double value) => double.IsFinite(value) ? value : null;
}
