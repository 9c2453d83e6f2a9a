using System.Diagnostics;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using WebLlm.Contracts;
using WebLlm.Server.Datasets;
using WebLlm.Server.Persistence;
using WebLlm.Training.Checkpoints;
using WebLlm.Training.Loop;

using WebLlm.Server.Live;

namespace WebLlm.Server.Runs;

/// <summary>What the scheduler asked of a training job; anything but None ends its loop after the current step.</summary>
public enum JobRequest { None, Pause, Stop, Shutdown }

/// <summary>
/// One run on the training thread: loads its run row, dataset and newest intact checkpoint, calls <see cref="Trainer.Run"/>
/// (the loop the CLI uses) with the server's callbacks, and says how the run ended. Its per-run state (what was asked of
/// it, "sample now", "checkpoint now", why it pauses) lives here; statuses, the queue and the commands that set these are
/// <see cref="TrainingService"/>'s.
/// </summary>
public sealed class TrainingJob(
    int runId, TransitionEvent started, string runDirectory, IDbContextFactory<WebLlmDb> dbFactory, MetricWriter writer,
    DatasetService datasets, WebLlmOptions settings, ILogger log, Func<double> peakFlops)
{
    /// <summary>How long a checkpoint waits for the steps before it to be committed (normally milliseconds).</summary>
    private static readonly TimeSpan FlushPatience = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource stopping = new();
    private volatile JobRequest request;
    private string? pauseReason;
    private int sampleNow, checkpointNow;

    public int RunId { get; } = runId;

    /// <summary>Pause, stop or shut-down, once asked: the training loop ends after the current step.</summary>
    public JobRequest Request
    {
        get => request;
        set
        {
            request = value;
            if (value != JobRequest.None) stopping.Cancel();
        }
    }

    /// <summary>Pauses with a reason of the server's own (a full disk) instead of "paused at step N".</summary>
    public void Pause(string reason)
    {
        Volatile.Write(ref pauseReason, reason);
        Request = JobRequest.Pause;
    }

    /// <summary>"Sample now" (<paramref name="checkpoint"/> false) or "checkpoint now", taken after the current step.</summary>
    public void AskNow(bool checkpoint)
    {
        if (checkpoint) Interlocked.Exchange(ref checkpointNow, 1);
        else Interlocked.Exchange(ref sampleNow, 1);
    }

    /// <summary>Trains the run until it finishes or is asked to end; never throws. Never awaits: TorchSharp's dispose scopes belong to this thread.</summary>
    public (RunStatus Status, string Reason) Run()
    {
        try
        {
            return Train();
        }
        catch (TrainingDivergedException ex)
        {
            // Updates with non-finite values were skipped, so the weights and every checkpoint are the last good ones.
            log.LogError("Run {RunId} diverged: {Message}", RunId, ex.Message);
            return (RunStatus.Failed, "diverged: " + ex.Message);
        }
        catch (Exception ex) when (DiskFull.Is(ex))
        {
            // The partial checkpoint was removed and older ones are untouched: free some space, then resume.
            log.LogError("Run {RunId} paused: disk full ({Message})", RunId, ex.Message);
            // When the database filled up first (its pause made this checkpoint), that is the reason to show.
            return (RunStatus.Paused, Interlocked.Exchange(ref pauseReason, null) ?? "disk full: " + Redact(ex.Message));
        }
        catch (Exception ex)
        {
            log.LogError(ex, "Run {RunId} failed", RunId);
            return (RunStatus.Failed, Redact(ex.Message));
        }
    }

    private (RunStatus, string) Train()
    {
        // Waiting once, before the loop, is fine: it orders this run's reads after everything committed before it.
        started.Committed.Task.GetAwaiter().GetResult();
        RunEntity run;
        using (var db = dbFactory.CreateDbContext())
            run = db.Runs.AsNoTracking().First(r => r.Id == RunId);
        var model = JsonSerializer.Deserialize<ModelConfigDto>(run.ModelConfigJson, RunMapping.Json)!;
        var training = JsonSerializer.Deserialize<TrainingConfigDto>(run.TrainingConfigJson, RunMapping.Json)!;
        var dataset = datasets.LoadForTraining(run.DatasetId);
        var data = new TrainingData(dataset.Train, dataset.Val, dataset.Tokenizer);
        var trainOptions = RunMapping.ToTrainOptions(training, settings, peakFlops());
        // Verify the newest checkpoint; a damaged one is set aside and the run continues from the previous intact one.
        var corrupt = new List<CorruptCheckpoint>();
        var intact = started.ResetAfterStep > 0 ? new RunFolder(runDirectory).NewestIntact(corrupt) : null;
        foreach (var c in corrupt) log.LogError("Run {RunId}: checkpoint step {Step} is corrupt ({Reason}); falling back", RunId, c.Step, c.Reason);
        using var trainer = intact is not null
            ? Trainer.Resume(runDirectory, data, trainOptions, intact.Directory)
            : run.InitFromCheckpoint is { } init ? Trainer.CreateFrom(init, trainOptions, data, runDirectory)
            : Trainer.Create(RunMapping.ToGptConfig(model), trainOptions, data, runDirectory);
        if (corrupt.Count > 0) writer.Post(new ResumedEvent(RunId, intact?.Step, corrupt));
        trainer.Faults = Faults(settings.Testing, runDirectory);

        long tokensPerStep = (long)trainOptions.BatchSize * trainer.BlockSize * trainOptions.GradAccumSteps;
        double elapsedBefore = run.ElapsedSeconds;
        var clock = Stopwatch.StartNew();
        // The CLI's loop, with this server's ends: every result goes to the writer (and on to the hub), "now" requests
        // come from REST, and a checkpoint waits for the steps before it to be committed.
        trainer.Run(new TrainingCallbacks
        {
            OnStep = r => writer.Post(new StepEvent(RunId, new StepMetricDto(
                r.Step, Finite.OrNull(r.Loss), Finite.OrNull(r.LearningRate), Finite.OrNull(r.GradNorm), Finite.OrNull(r.TokensPerSecond),
                Finite.OrNull(r.Milliseconds), Finite.OrNull(r.Mfu), r.Step * tokensPerStep, elapsedBefore + clock.Elapsed.TotalSeconds,
                !double.IsFinite(r.Loss) || !double.IsFinite(r.GradNorm)), r.Skipped)),
            OnEval = e => writer.Post(new EvalEvent(RunId, new EvalDto(e.Step, Finite.OrNull(e.ValLoss), DateTime.UtcNow))),
            OnSample = s => writer.Post(new SampleEvent(RunId, new SampleDto(s.Step, s.Prompt, s.Text, DateTime.UtcNow))),
            SampleRequested = () => Interlocked.Exchange(ref sampleNow, 0) == 1,
            CheckpointRequested = () => Interlocked.Exchange(ref checkpointNow, 0) == 1,
            BeforeCheckpoint = FlushBeforeCheckpoint,
            OnCheckpoint = c => writer.Post(new CheckpointWritten(RunId, c, DateTime.UtcNow)),
        }, stopping.Token);

        return Request switch
        {
            _ when trainer.Finished => (RunStatus.Completed, $"reached {trainer.Options.MaxSteps} steps"),
            JobRequest.Pause => (RunStatus.Paused, Interlocked.Exchange(ref pauseReason, null) ?? $"paused at step {trainer.Step}"),
            JobRequest.Stop => (RunStatus.Stopped, $"stopped at step {trainer.Step}"),
            _ => (RunStatus.Interrupted, $"server shut down at step {trainer.Step}"),
        };
    }

    /// <summary>
    /// Before a checkpoint: waits until the steps before it are committed (see <see cref="FlushEvent"/>). When the
    /// database's disk is full, or it does not answer within <see cref="FlushPatience"/>, the checkpoint is written anyway:
    /// the steps wait in the writer's memory, and the weights matter more than a hole in the history after a crash.
    /// </summary>
    private void FlushBeforeCheckpoint(long step)
    {
        var flush = new FlushEvent(RunId);
        writer.Post(flush);
        if (!SpinWait.SpinUntil(() => flush.Committed.Task.IsCompleted || writer.DiskFullError is not null, FlushPatience))
            log.LogWarning("Run {RunId}: the steps before checkpoint {Step} were not committed within {Patience}; writing it anyway", RunId, step, FlushPatience);
    }

    /// <summary>Test-only fault injection from <c>WebLlm:Testing</c>; null unless a test switched something on.</summary>
    private static TrainingFaults? Faults(TestingOptions t, string runDirectory) => !t.Any ? null : new TrainingFaults
    {
        PoisonLoss = t.PoisonLossFromStep > 0 ? s => s >= t.PoisonLossFromStep && s < t.PoisonLossFromStep + t.PoisonLossSteps : null,
        Checkpoint = new CheckpointFaults
        {
            DelayPerFile = TimeSpan.FromMilliseconds(t.CheckpointFileDelayMs),
            FailWrite = t.CheckpointDiskFullFromStep > 0 ? s => s >= t.CheckpointDiskFullFromStep ? DiskFull.Exception(Path.Combine(new RunFolder(runDirectory).TemporaryCheckpoint(s), Checkpoint.ModelFile)) : null : null,
        },
    };

    private string Redact(string message) => ShownPaths.Redact(message, settings.DataDirectory);
}
