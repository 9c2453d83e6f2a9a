namespace WebLlm.Training.Loop;

/// <summary>One optimizer update. Loss is the mean over its micro-batches; non-finite updates are skipped (Skipped = true).</summary>
public sealed record StepResult(
    long Step, double Loss, double LearningRate, double GradNorm, long Tokens, double Milliseconds,
    double TokensPerSecond, double Mfu, bool Skipped)
{
    /// <summary>Where the step's time went (milliseconds), for benchmarks and profiling.</summary>
    public StepPhases? Phases { get; init; }
}

/// <summary>Milliseconds per phase of one step, summed over micro-batches. On a CPU every op is synchronous,
/// so wall-clock per phase is exact; on CUDA the phases are only separated at the final synchronize.</summary>
public sealed record StepPhases(double Data, double Forward, double Backward, double Clip, double Optimizer)
{
    public double Total => Data + Forward + Backward + Clip + Optimizer;
}

public sealed record EvalResult(long Step, double ValLoss, double Milliseconds);

public sealed record SampleResult(long Step, string Prompt, string Text);

/// <summary>
/// What <see cref="Trainer.Run"/> reports, and what its caller may ask of it between steps. Every callback runs on the
/// training thread, so keep them quick.
/// </summary>
public sealed record TrainingCallbacks
{
    public Action<StepResult>? OnStep { get; init; }
    public Action<EvalResult>? OnEval { get; init; }
    public Action<SampleResult>? OnSample { get; init; }
    public Action<Checkpoints.CheckpointInfo>? OnCheckpoint { get; init; }

    /// <summary>Asked after every step: true samples now, besides the cadence ("sample now" in the dashboard).</summary>
    public Func<bool>? SampleRequested { get; init; }

    /// <summary>Asked after every step: true writes a checkpoint now, besides the cadence.</summary>
    public Func<bool>? CheckpointRequested { get; init; }

    /// <summary>Runs just before a checkpoint of the given step is written (the server commits the steps before it first).</summary>
    public Action<long>? BeforeCheckpoint { get; init; }
}

/// <summary>The loss or gradients stayed non-finite for too many consecutive steps.</summary>
public sealed class TrainingDivergedException(long step, int badSteps)
    : Exception($"Training diverged: {badSteps} consecutive steps with a non-finite loss or gradient norm (last at step {step}).")
{
    public long Step { get; } = step;
}

/// <summary>
/// Test-only fault injection for the training loop (NaN losses, slow or failing checkpoint writes). Production code
/// leaves <see cref="Trainer.Faults"/> null.
/// </summary>
public sealed class TrainingFaults
{
    /// <summary>Given a 1-based step, whether to multiply its loss by NaN before backward (so loss and gradients are NaN).</summary>
    public Func<long, bool>? PoisonLoss { get; init; }

    public Checkpoints.CheckpointFaults? Checkpoint { get; init; }
}
