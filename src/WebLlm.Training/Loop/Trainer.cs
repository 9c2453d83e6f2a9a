using System.Diagnostics;
using System.Text.Json;
using TorchSharp;
using WebLlm.Training.Checkpoints;
using WebLlm.Training.Model;
using WebLlm.Training.Sampling;
using WebLlm.Training.Tokenization;
using static TorchSharp.torch;

namespace WebLlm.Training.Loop;

/// <summary>
/// Tokens to train and evaluate on, and the tokenizer that made them. The tokenizer is null only for
/// synthetic benchmark tokens, where there is no text to sample.
/// </summary>
public sealed record TrainingData(ushort[] Train, ushort[] Val, Tokenizer? Tokenizer)
{
    public static TrainingData From(Data.Dataset dataset) => new(dataset.Train, dataset.Val, dataset.Tokenizer);
}

/// <summary>
/// Trains one model, one optimizer update at a time, like llm.c's train_gpt2 loop: callers (the CLI, the
/// server's training service) decide when to stop, pause or checkpoint between steps. Everything a step
/// depends on is (weights, moments, seed, step), so a run resumed from a checkpoint continues bit for bit.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly Gpt model;
    private readonly AdamW optimizer;
    private readonly TrainingData data;
    private readonly BatchSampler trainBatches;
    private readonly BatchSampler valBatches;
    private readonly LearningRateSchedule schedule;
    private readonly Device device;
    private readonly string runDirectory;
    private Sampler? sampler; // one for the run: its decoder's helper thread is made once
    private int badStepsInARow;

    public TrainOptions Options { get; }
    public GptConfig ModelConfig => model.Config;
    public Gpt Model => model;
    public int BlockSize { get; }
    /// <summary>Updates completed so far.</summary>
    public long Step { get; private set; }
    public bool Finished => Step >= Options.MaxSteps;
    public double PeakFlops { get; }
    public double? LastTrainLoss { get; private set; }
    public double? LastValLoss { get; private set; }
    public double? BestValLoss { get; private set; }
    public long SkippedSteps { get; private set; }
    /// <summary>Checkpoints found corrupt (and set aside) while resuming; the run continued from an older intact one.</summary>
    public IReadOnlyList<CorruptCheckpoint> CorruptCheckpoints { get; private set; } = [];
    /// <summary>Test-only fault injection; null (the default) injects nothing.</summary>
    public TrainingFaults? Faults { get; set; }
    public string CheckpointsDirectory => new RunFolder(runDirectory).Checkpoints;

    private Trainer(Gpt model, TrainOptions options, TrainingData data, string runDirectory, Device device)
    {
        options.Validate(model.Config.BlockSize);
        if (data.Tokenizer is { } t && t.VocabSize > model.Config.VocabSize)
            throw new ArgumentException($"The tokenizer has {t.VocabSize} tokens but the model's vocabulary is {model.Config.VocabSize}.");
        this.model = model;
        this.data = data;
        this.runDirectory = runDirectory;
        this.device = device;
        Options = options;
        BlockSize = options.BlockSize > 0 ? options.BlockSize : model.Config.BlockSize;
        trainBatches = new BatchSampler(data.Train, options.BatchSize, BlockSize, (ulong)options.Seed);
        // Validation batches use their own fixed seed so every evaluation sees the same windows.
        valBatches = new BatchSampler(data.Val, options.BatchSize, BlockSize, (ulong)options.Seed ^ 0x5A5A5A5A5A5A5A5AUL);
        double minLr = options.MinLearningRate > 0 ? options.MinLearningRate : options.LearningRate / 10;
        schedule = new LearningRateSchedule(options.LearningRate, minLr, options.WarmupSteps,
            options.DecaySteps > 0 ? options.DecaySteps : options.MaxSteps);
        optimizer = new AdamW(model.named_parameters().Select(p => (p.name, (Tensor)p.parameter)),
            options.Beta1, options.Beta2, 1e-8, options.WeightDecay);
        PeakFlops = options.PeakFlops > 0 ? options.PeakFlops : MatmulCeiling.Measure(device, TimeSpan.FromSeconds(0.5));
        model.train();
    }

    /// <summary>A new run: a freshly initialised model (seeded) writing its checkpoints under <paramref name="runDirectory"/>.</summary>
    public static Trainer Create(GptConfig config, TrainOptions options, TrainingData data, string runDirectory)
    {
        options.Validate(config.BlockSize);
        Devices.SetThreads(options.Threads);
        var device = Devices.Resolve(options.Device);
        var model = new Gpt(config, options.Seed);
        model.to(device);
        return new Trainer(model, options, data, runDirectory, device);
    }

    /// <summary>
    /// A new run that starts from the weights of a checkpoint (fine-tuning, nanoGPT's init_from): fresh
    /// optimizer, step 0. The dataset must use the checkpoint's tokenizer.
    /// </summary>
    public static Trainer CreateFrom(string checkpointDir, TrainOptions options, TrainingData data, string runDirectory)
    {
        var manifest = Checkpoint.ReadManifest(checkpointDir);
        if (data.Tokenizer is { } t && (t.Spec.Kind != manifest.Tokenizer.Kind || t.Spec.Vocabulary != manifest.Tokenizer.Vocabulary))
            throw new ArgumentException($"The dataset's {t.Spec.Kind} tokenizer differs from the checkpoint's {manifest.Tokenizer.Kind} tokenizer; prepare the data with the checkpoint's tokenizer.");
        options.Validate(manifest.Model.BlockSize);
        Devices.SetThreads(options.Threads);
        var device = Devices.Resolve(options.Device);
        var (model, _) = Checkpoint.LoadModel(checkpointDir, device);
        try { return new Trainer(model, options, data, runDirectory, device); }
        catch { model.Dispose(); throw; }
    }

    /// <summary>
    /// Continues a run from its newest complete checkpoint (or the given one). Options are those stored in
    /// the checkpoint unless <paramref name="options"/> is given (e.g. to extend MaxSteps).
    /// </summary>
    public static Trainer Resume(string runDirectory, TrainingData data, TrainOptions? options = null, string? checkpointDir = null)
    {
        var folder = new RunFolder(runDirectory);
        folder.CleanTemporary();
        var corrupt = new List<CorruptCheckpoint>();
        checkpointDir ??= folder.NewestIntact(corrupt)?.Directory
            ?? throw new FileNotFoundException($"No complete, intact checkpoint in {folder.Checkpoints} to resume from"
                + (corrupt.Count > 0 ? $" ({corrupt.Count} corrupt: {string.Join("; ", corrupt.Select(c => $"step {c.Step}: {c.Reason}"))})." : "."));
        var manifest = Checkpoint.ReadManifest(checkpointDir);
        options ??= manifest.Training?.Deserialize<TrainOptions>(Checkpoint.Json)
            ?? throw new InvalidDataException($"{checkpointDir} does not record its training options.");
        Devices.SetThreads(options.Threads);
        var device = Devices.Resolve(options.Device);
        var (model, _) = Checkpoint.LoadModel(checkpointDir, device);
        Trainer trainer;
        try { trainer = new Trainer(model, options, data, runDirectory, device); }
        catch { model.Dispose(); throw; }
        var (moments, optimizerStep) = Checkpoint.LoadOptimizer(checkpointDir);
        try { trainer.optimizer.Load(moments, optimizerStep); }
        finally { foreach (var t in moments.Values) t.Dispose(); }
        trainer.Step = manifest.Step;
        trainer.CorruptCheckpoints = corrupt;
        trainer.LastTrainLoss = manifest.TrainLoss;
        trainer.LastValLoss = manifest.ValLoss;
        trainer.BestValLoss = manifest.ValLoss;
        return trainer;
    }

    /// <summary>One optimizer update over GradAccumSteps micro-batches.</summary>
    public StepResult TrainStep()
    {
        if (Finished) throw new InvalidOperationException($"The run has finished its {Options.MaxSteps} steps.");
        var sw = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        long step = Step; // 0-based index of this update
        double lr = schedule.At(step);
        // Dropout masks are a function of (seed, step), like the data, so resumed runs draw the same ones.
        if (model.Config.Dropout > 0) model.SeedDropout(Options.Seed + step);
        var phase = Stopwatch.StartNew();
        double data = 0, forward = 0, backward = 0;
        optimizer.ZeroGrad();
        double lossSum = 0;
        for (int micro = 0; micro < Options.GradAccumSteps; micro++)
        {
            using var microScope = NewDisposeScope();
            phase.Restart();
            var (x, y) = trainBatches.Get(step, micro, device);
            data += phase.Elapsed.TotalMilliseconds;
            phase.Restart();
            var loss = model.Loss(x, y);
            if (Faults?.PoisonLoss?.Invoke(step + 1) == true) loss = loss * double.NaN;
            lossSum += loss.item<float>();
            forward += phase.Elapsed.TotalMilliseconds;
            phase.Restart();
            (loss / Options.GradAccumSteps).backward();
            backward += phase.Elapsed.TotalMilliseconds;
        }
        double lossMean = lossSum / Options.GradAccumSteps;
        phase.Restart();
        double norm = optimizer.GradientNorm();
        double gradScale = AdamW.ClipScale(norm, Options.GradClip); // applied by the optimizer as it reads each gradient
        double clip = phase.Elapsed.TotalMilliseconds;
        phase.Restart();
        bool skipped = !double.IsFinite(lossMean) || !double.IsFinite(norm);
        if (skipped)
        {
            SkippedSteps++;
            if (++badStepsInARow >= Options.MaxBadSteps) throw new TrainingDivergedException(step + 1, badStepsInARow);
        }
        else
        {
            badStepsInARow = 0;
            optimizer.Step(lr, gradScale);
            LastTrainLoss = lossMean;
        }
        MatmulCeiling.Synchronize(device);
        double optimizing = phase.Elapsed.TotalMilliseconds;
        Step++;
        double ms = sw.Elapsed.TotalMilliseconds;
        long tokens = (long)Options.BatchSize * BlockSize * Options.GradAccumSteps;
        double tokensPerSecond = tokens / (ms / 1000);
        double mfu = model.Config.TrainingFlopsPerToken(BlockSize) * tokensPerSecond / PeakFlops;
        return new StepResult(Step, lossMean, lr, norm, tokens, ms, tokensPerSecond, mfu, skipped)
        {
            Phases = new StepPhases(data, forward, backward, clip, optimizing),
        };
    }

    /// <summary>Mean loss over EvalBatches fixed validation batches (llm.c's val loss).</summary>
    public EvalResult Evaluate()
    {
        var sw = Stopwatch.StartNew();
        model.eval();
        try
        {
            using var noGrad = no_grad();
            double sum = 0;
            for (int i = 0; i < Options.EvalBatches; i++)
            {
                using var scope = NewDisposeScope();
                var (x, y) = valBatches.Get(0, i, device);
                sum += model.Loss(x, y).item<float>();
            }
            double val = sum / Options.EvalBatches;
            LastValLoss = val;
            if (double.IsFinite(val) && (BestValLoss is null || val < BestValLoss)) BestValLoss = val;
            return new EvalResult(Step, val, sw.Elapsed.TotalMilliseconds);
        }
        finally
        {
            model.train();
        }
    }

    /// <summary>A completion of every sample prompt with the same seed at every step, so steps can be compared.</summary>
    public IReadOnlyList<SampleResult> Sample()
    {
        sampler ??= new Sampler(model, data.Tokenizer ?? throw new InvalidOperationException("Synthetic data has no tokenizer to sample with."));
        var options = new SamplingOptions
        {
            MaxNewTokens = Options.SampleTokens,
            Temperature = Options.SampleTemperature,
            TopK = Options.SampleTopK,
            Seed = (ulong)Options.Seed,
        };
        return Options.SamplePrompts.Select(p => new SampleResult(Step, p, sampler.Complete(p, options))).ToList();
    }

    public CheckpointInfo SaveCheckpoint()
    {
        var manifest = new CheckpointManifest
        {
            Step = Step,
            Model = model.Config,
            Tokenizer = data.Tokenizer?.Spec ?? new TokenizerSpec("none", null),
            Training = JsonSerializer.SerializeToNode(Options, Checkpoint.Json)?.AsObject(),
            // JSON has no NaN: a non-finite loss is recorded as unknown.
            TrainLoss = LastTrainLoss is double t && double.IsFinite(t) ? t : null,
            ValLoss = LastValLoss is double v && double.IsFinite(v) ? v : null,
        };
        var saved = Checkpoint.Save(CheckpointsDirectory, model, manifest, optimizer.State, optimizer.StepCount, Faults?.Checkpoint);
        // Retention runs only now that the new checkpoint is complete: an older one is never deleted first.
        return Options.KeepCheckpoints > 0 ? saved with { Pruned = Checkpoint.Prune(CheckpointsDirectory, Options.KeepCheckpoints) } : saved;
    }

    public bool EvalDue => Due(Options.EvalEvery);
    public bool SampleDue => data.Tokenizer is not null && Due(Options.SampleEvery);
    public bool CheckpointDue => Due(Options.CheckpointEvery);

    /// <summary>Every N steps and at the last step (when the cadence is on).</summary>
    private bool Due(int every) => every > 0 && Step > 0 && (Step % every == 0 || Finished);

    /// <summary>
    /// The training loop, for the CLI and the server alike: trains to MaxSteps with evals, samples and checkpoints at their
    /// cadences or when <paramref name="callbacks"/> ask for them. Cancellation (stop, pause, Ctrl+C, shut-down) is
    /// honoured between steps. A checkpoint of the last step is always written before returning, so stopping or finishing
    /// never loses work.
    /// </summary>
    public void Run(TrainingCallbacks callbacks, CancellationToken cancellationToken = default)
    {
        // A resumed run starts from a checkpoint of this very step: nothing new to keep until it trains.
        long checkpointed = Checkpoint.List(CheckpointsDirectory).Any(c => c.Step == Step) ? Step : -1;
        void WriteCheckpoint()
        {
            callbacks.BeforeCheckpoint?.Invoke(Step);
            var saved = SaveCheckpoint();
            checkpointed = Step;
            callbacks.OnCheckpoint?.Invoke(saved);
        }
        // Results are computed before the callbacks are looked at: `callback?.Invoke(Work())` would skip the work.
        // The requests are asked for every step (`|`, not `||`), so one asked for at a due step is not left for the next.
        while (!Finished && !cancellationToken.IsCancellationRequested)
        {
            var step = TrainStep();
            callbacks.OnStep?.Invoke(step);
            if (EvalDue)
            {
                var eval = Evaluate();
                callbacks.OnEval?.Invoke(eval);
            }
            if ((callbacks.SampleRequested?.Invoke() == true | SampleDue) && data.Tokenizer is not null)
            {
                foreach (var s in Sample()) callbacks.OnSample?.Invoke(s);
            }
            if ((callbacks.CheckpointRequested?.Invoke() == true | CheckpointDue) && Step > checkpointed)
                WriteCheckpoint();
        }
        if (Step > 0 && Step > checkpointed) WriteCheckpoint();
    }

    public void Dispose()
    {
        sampler?.Dispose();
        optimizer.Dispose();
        model.Dispose();
    }
}
