namespace WebLlm.Training.Loop;

/// <summary>Hyper-parameters and cadences of a training run. Defaults follow nanoGPT's shakespeare_char recipe.</summary>
public sealed record TrainOptions
{
    public int MaxSteps { get; init; } = 2000;
    public int BatchSize { get; init; } = 12;
    /// <summary>Training context; 0 means the model's full context.</summary>
    public int BlockSize { get; init; }
    public int GradAccumSteps { get; init; } = 1;
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Floor of the cosine decay; 0 means LearningRate / 10 (Chinchilla's recommendation).</summary>
    public double MinLearningRate { get; init; }
    public int WarmupSteps { get; init; } = 100;
    /// <summary>Steps of cosine decay; 0 means MaxSteps.</summary>
    public int DecaySteps { get; init; }
    public double WeightDecay { get; init; } = 0.1;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    /// <summary>Clip the global gradient norm at this value; 0 disables clipping.</summary>
    public double GradClip { get; init; } = 1.0;

    public int EvalEvery { get; init; } = 250;
    public int EvalBatches { get; init; } = 20;
    public int SampleEvery { get; init; } = 250;
    public IReadOnlyList<string> SamplePrompts { get; init; } = ["\n"];
    public int SampleTokens { get; init; } = 120;
    public double SampleTemperature { get; init; } = 0.8;
    public int SampleTopK { get; init; } = 200;
    public int CheckpointEvery { get; init; } = 500;

    public long Seed { get; init; } = 1337;
    /// <summary>Intra-op threads for libtorch; 0 leaves libtorch's default (one per core).</summary>
    public int Threads { get; init; }
    /// <summary>auto (CUDA when available), cpu or cuda.</summary>
    public string Device { get; init; } = "auto";
    /// <summary>Peak FLOP/s that MFU is measured against; 0 means measure a large fp32 matrix product once at start.</summary>
    public double PeakFlops { get; init; }
    /// <summary>After this many consecutive steps with a non-finite loss or gradient norm the run is declared diverged.</summary>
    public int MaxBadSteps { get; init; } = 10;
    /// <summary>Keep only the newest this many checkpoints (older ones are deleted after a newer one is complete); 0 keeps all.</summary>
    public int KeepCheckpoints { get; init; }

    /// <summary>Throws with every problem listed.</summary>
    public void Validate(int modelBlockSize)
    {
        var e = new List<string>();
        if (MaxSteps < 1) e.Add($"steps must be at least 1 (got {MaxSteps})");
        if (BatchSize < 1) e.Add($"batch size must be at least 1 (got {BatchSize})");
        if (BlockSize < 0 || BlockSize > modelBlockSize) e.Add($"block size must be between 1 and the model's context {modelBlockSize} (got {BlockSize})");
        if (GradAccumSteps < 1) e.Add($"gradient accumulation must be at least 1 (got {GradAccumSteps})");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) e.Add($"learning rate must be positive (got {LearningRate})");
        if (MinLearningRate < 0 || MinLearningRate > LearningRate) e.Add($"min learning rate must be between 0 and the learning rate (got {MinLearningRate})");
        if (WarmupSteps < 0) e.Add($"warmup must be 0 or more steps (got {WarmupSteps})");
        if (DecaySteps < 0) e.Add($"decay steps must be 0 or more (got {DecaySteps})");
        if (WeightDecay < 0) e.Add($"weight decay must be 0 or more (got {WeightDecay})");
        if (Beta1 is < 0 or >= 1) e.Add($"beta1 must be in [0, 1) (got {Beta1})");
        if (Beta2 is < 0 or >= 1) e.Add($"beta2 must be in [0, 1) (got {Beta2})");
        if (GradClip < 0) e.Add($"gradient clip must be 0 (off) or positive (got {GradClip})");
        if (EvalEvery < 0 || SampleEvery < 0 || CheckpointEvery < 0) e.Add("cadences (eval, sample, checkpoint every) must be 0 (off) or positive");
        if (EvalBatches < 1) e.Add($"eval batches must be at least 1 (got {EvalBatches})");
        if (SampleTokens < 1) e.Add($"sample tokens must be at least 1 (got {SampleTokens})");
        if (Threads < 0) e.Add($"threads must be 0 (default) or positive (got {Threads})");
        if (Device is not ("auto" or "cpu" or "cuda")) e.Add($"device must be auto, cpu or cuda (got '{Device}')");
        if (MaxBadSteps < 1) e.Add($"max bad steps must be at least 1 (got {MaxBadSteps})");
        if (KeepCheckpoints is < 0 or 1) e.Add($"keep checkpoints must be 0 (all) or at least 2 (got {KeepCheckpoints})");
        if (e.Count > 0) throw new ArgumentException("Invalid training options: " + string.Join("; ", e) + ".");
    }
}
