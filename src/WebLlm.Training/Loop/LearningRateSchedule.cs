namespace WebLlm.Training.Loop;

/// <summary>Linear warmup to the peak, then cosine decay to min_lr at the last step (nanoGPT's get_lr).</summary>
public sealed record LearningRateSchedule(double MaxLr, double MinLr, int WarmupSteps, int DecaySteps)
{
    /// <summary>Learning rate for the update with 0-based index <paramref name="step"/>.</summary>
    public double At(long step)
    {
        if (step < WarmupSteps) return MaxLr * (step + 1) / WarmupSteps;
        if (step >= DecaySteps) return MinLr;
        double ratio = (double)(step - WarmupSteps) / Math.Max(1, DecaySteps - WarmupSteps);
        double coeff = 0.5 * (1.0 + Math.Cos(Math.PI * ratio)); // 1 → 0
        return MinLr + coeff * (MaxLr - MinLr);
    }
}
