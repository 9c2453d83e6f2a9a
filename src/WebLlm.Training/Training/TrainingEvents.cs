namespace WebLlm.Training.Training;

/// <summary>One optimizer update. Loss is the mean over its micro-batches; non-finite updates are skipped (Skipped = true).</summary>
public sealed record StepResult(
    long Step, double Loss, double LearningRate, double GradNorm, long Tokens, double Milliseconds,
    double TokensPerSecond, double Mfu, bool Skipped);

public sealed record EvalResult(long Step, double ValLoss, double Milliseconds);

public sealed record SampleResult(long Step, string Prompt, string Text);

/// <summary>What a training loop reports; every callback runs on the training thread, so keep them quick.</summary>
public sealed record TrainingCallbacks
{
    public Action<StepResult>? OnStep { get; init; }
    public Action<EvalResult>? OnEval { get; init; }
    public Action<SampleResult>? OnSample { get; init; }
    public Action<Checkpoints.CheckpointInfo>? OnCheckpoint { get; init; }
}

/// <summary>The loss or gradients stayed non-finite for too many consecutive steps.</summary>
public sealed class TrainingDivergedException(long step, int badSteps)
    : Exception($"Training diverged: {badSteps} consecutive steps with a non-finite loss or gradient norm (last at step {step}).")
{
    public long Step { get; } = step;
}
