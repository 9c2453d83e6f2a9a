using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using WebLlm.Contracts;
using WebLlm.Server.Datasets;
using WebLlm.Server.Persistence;
using WebLlm.Training;
using WebLlm.Training.Checkpoints;

using WebLlm.Server.Live;

namespace WebLlm.Server.Runs;

public enum CommandOutcome { Done, Accepted, NoOp, NotFound, Invalid, DiskFull }

/// <summary>What a command did; endpoints map it to 200, 202, 404, 409 or 503.</summary>
public sealed record CommandResult(CommandOutcome Outcome, string? Message = null);

/// <summary>
/// Owns the device: runs one run at a time on a dedicated thread and keeps the authoritative status of
/// every run in memory, so commands are validated atomically under one lock and never wait for the
/// training loop. Status changes go to the database through <see cref="MetricWriter"/>, in order with the
/// metrics they follow (a client that sees Completed finds every step in the database).
/// </summary>
/// <remarks>
/// Queue policy: a Paused run releases the device, so the next Queued run starts; resuming a paused run
/// queues it behind the runs already waiting. Pause, stop and shut-down are honoured at step boundaries.
/// </remarks>
public sealed class TrainingService(
    IDbContextFactory<WebLlmDb> dbFactory, MetricWriter writer, DatasetService datasets,
    IOptions<WebLlmOptions> options, ILogger<TrainingService> log) : BackgroundService
{
    private readonly Lock gate = new();
    private readonly Dictionary<int, RunStatus> statuses = [];
    /// <summary>Runs another engine trains: their status follows what the watcher reports; they never use the device.</summary>
    private readonly HashSet<int> external = [];
    private readonly LinkedList<int> queue = new();
    private readonly TaskCompletionSource ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly WebLlmOptions settings = options.Value;
    private TrainingJob? current;
    private Task currentTask = Task.CompletedTask;
    private bool shuttingDown;
    private double peakFlops;

    /// <summary>The training thread's name (at most 15 characters: Linux's limit for thread names).</summary>
    public const string TrainingThreadName = "WebLlm training";

    /// <summary>
    /// The database could not be written because the disk is full: the current run pauses at the end of its step
    /// (the writer keeps the unwritten rows and retries them, so no step is lost once space is freed).
    /// </summary>
    public void OnDatabaseDiskFull(Exception ex)
    {
        lock (gate)
        {
            if (current is null || current.Request != JobRequest.None) return;
            current.Pause("disk full: the database could not be written (" + Redact(ex.Message) + ")");
        }
    }

    /// <summary>
    /// While the database disk is full a status change cannot be committed, and a request that waited for that commit
    /// would hang until space returns: commands and new runs are refused (503 disk_full) instead. Null while writable.
    /// </summary>
    public string? DatabaseFullMessage() => writer.DiskFullError is { } ex
        ? "The disk is full: the database cannot be written (" + Redact(ex.Message) + "). Free some space; the server retries every 2 s."
        : null;

    private CommandResult? DatabaseFull() => DatabaseFullMessage() is { } message ? new(CommandOutcome.DiskFull, message) : null;

    /// <summary>The run on the device, if any (for the system sampler).</summary>
    public int? CurrentRunId
    {
        get { lock (gate) return current?.RunId; }
    }

    public string RunDirectory(int runId) => settings.DataPath("runs", runId.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        Devices.SetThreads(settings.Threads > 0 ? settings.Threads : Environment.ProcessorCount);
        writer.DatabaseDiskFull = OnDatabaseDiskFull;
        await RecoverAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        lock (gate) TryStartNextLocked();
        ready.TrySetResult();
        return Task.CompletedTask;
    }

    /// <summary>
    /// Runs left Running by a crash become Interrupted at their newest complete checkpoint (rows after it are
    /// dropped; with no checkpoint they restart from step 0). Queued runs stay queued, in id order.
    /// </summary>
    private async Task RecoverAsync(CancellationToken ct)
    {
        // Leftovers of checkpoint writes a crash cut short, in every run's folder.
        if (Directory.Exists(settings.DataPath("runs")))
            foreach (var runDir in Directory.EnumerateDirectories(settings.DataPath("runs")))
                if (new RunFolder(runDir).CleanTemporary() is > 0 and var n)
                    log.LogWarning("Removed {Count} incomplete checkpoint folder(s) in {Run}", n, runDir);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var now = DateTime.UtcNow;
        // External runs keep their status: the engine goes on training while this server restarts.
        foreach (var run in await db.Runs.Where(r => r.Status == RunStatus.Running && r.Engine == null).ToListAsync(ct))
        {
            var folder = new RunFolder(RunDirectory(run.Id));
            folder.CleanTemporary();
            long step = folder.NewestCheckpoint()?.Step ?? 0;
            await RunRows.DeleteAfterAsync(db, run.Id, step);
            db.RunTransitions.Add(new RunTransitionEntity { RunId = run.Id, From = RunStatus.Running, To = RunStatus.Interrupted, Reason = "server restarted", Utc = now });
            run.Status = RunStatus.Interrupted;
            run.StatusReason = step > 0 ? $"server restarted; resumable from step {step}" : "server restarted; no checkpoint yet, resume starts over";
            run.CurrentStep = step;
            run.LatestCheckpointStep = step > 0 ? step : null;
            log.LogWarning("Run {RunId} was left running; marked Interrupted at checkpoint step {Step}", run.Id, step);
        }
        await db.SaveChangesAsync(ct);
        var all = await db.Runs.AsNoTracking().OrderBy(r => r.Id).Select(r => new { r.Id, r.Status, r.Engine }).ToListAsync(ct);
        lock (gate)
        {
            foreach (var r in all)
            {
                statuses[r.Id] = r.Status;
                if (r.Engine is not null) external.Add(r.Id);
                if (r.Status == RunStatus.Queued) queue.AddLast(r.Id);
            }
        }
    }

    /// <summary>A run row was just inserted as Queued; queue it and start it when the device is free.</summary>
    public async Task LaunchAsync(int runId)
    {
        await ready.Task;
        Task? started;
        lock (gate)
        {
            statuses[runId] = RunStatus.Queued;
            queue.AddLast(runId);
            started = TryStartNextLocked();
        }
        if (started is not null) await started;
    }

    /// <summary>An external run row was just inserted; it is Running from now on, without the device.</summary>
    public Task AddExternalAsync(int runId, string reason) => AddAsync(runId, RunStatus.Running, reason, isExternal: true);

    /// <summary>An imported model's run row was just inserted: it is Completed (nothing to train, ready to sample).</summary>
    public Task AddImportedAsync(int runId, string reason) => AddAsync(runId, RunStatus.Completed, reason, isExternal: false);

    private async Task AddAsync(int runId, RunStatus to, string reason, bool isExternal)
    {
        await ready.Task;
        Task committed;
        lock (gate)
        {
            if (isExternal) external.Add(runId);
            statuses[runId] = RunStatus.Queued;
            committed = TransitionLocked(runId, RunStatus.Queued, to, reason);
        }
        await committed;
    }

    /// <summary>
    /// The watcher of an external run reports a status: Running, Completed, Stopped or Failed. Final states stay
    /// final (a 409), so a stale watcher cannot revive a finished run.
    /// </summary>
    public async Task<CommandResult> ExternalStatusAsync(int runId, RunStatus to, string reason)
    {
        await ready.Task;
        Task committed;
        lock (gate)
        {
            if (!statuses.TryGetValue(runId, out var status)) return new(CommandOutcome.NotFound);
            if (!external.Contains(runId)) return new(CommandOutcome.Invalid, "Only external runs take metrics and status from outside.");
            if (status == to) return new(CommandOutcome.NoOp);
            if (status is RunStatus.Completed or RunStatus.Stopped or RunStatus.Failed)
                return new(CommandOutcome.Invalid, $"The run is {status}; a finished run does not change.");
            if (to is not (RunStatus.Running or RunStatus.Completed or RunStatus.Stopped or RunStatus.Failed))
                return new(CommandOutcome.Invalid, $"An external run can be Running, Completed, Stopped or Failed, not {to}.");
            committed = TransitionLocked(runId, status, to, reason);
        }
        await committed;
        return new(CommandOutcome.Done);
    }

    public bool IsExternal(int runId)
    {
        lock (gate) return external.Contains(runId);
    }

    public async Task<CommandResult> PauseAsync(int runId)
    {
        await ready.Task;
        Task? committed = null;
        CommandResult result;
        lock (gate)
        {
            if (!statuses.TryGetValue(runId, out var status)) return new(CommandOutcome.NotFound);
            switch (status)
            {
                case RunStatus.Running when current?.RunId == runId:
                    // No commit to wait for: a pause works on a full disk too (the disk-full handler asks for one itself).
                    if (current.Request is JobRequest.Stop or JobRequest.Shutdown) return new(CommandOutcome.Invalid, "The run is stopping.");
                    if (current.Request == JobRequest.Pause) return new(CommandOutcome.Accepted, "Already pausing.");
                    current.Request = JobRequest.Pause;
                    result = new(CommandOutcome.Accepted, "Pausing at the end of the current step.");
                    break;
                case RunStatus.Queued:
                    if (DatabaseFull() is { } full) return full;
                    queue.Remove(runId);
                    committed = TransitionLocked(runId, status, RunStatus.Paused, "paused while queued");
                    result = new(CommandOutcome.Done);
                    break;
                case RunStatus.Paused:
                    return new(CommandOutcome.NoOp, "Already paused.");
                default:
                    return new(CommandOutcome.Invalid, $"A {status} run cannot be paused.");
            }
        }
        if (committed is not null) await committed;
        return result;
    }

    /// <summary>
    /// "Sample now" (<paramref name="checkpoint"/> false) or "checkpoint now": the training loop does it after the
    /// current step, the same way as the cadence does. Only a run training on this device (Running, not pausing or stopping).
    /// </summary>
    public async Task<CommandResult> RequestNowAsync(int runId, bool checkpoint)
    {
        await ready.Task;
        lock (gate)
        {
            if (!statuses.TryGetValue(runId, out var status)) return new(CommandOutcome.NotFound);
            string what = checkpoint ? "checkpoint" : "sample";
            if (status != RunStatus.Running || current?.RunId != runId)
                return new(CommandOutcome.Invalid, $"Only a run training on this server can {what} now; this one is {(external.Contains(runId) ? "external" : status.ToString())}.");
            if (current.Request != JobRequest.None) return new(CommandOutcome.Invalid, "The run is pausing or stopping.");
            current.AskNow(checkpoint);
            return new(CommandOutcome.Accepted, $"Will {what} at the end of the current step.");
        }
    }

    public async Task<CommandResult> ResumeAsync(int runId)
    {
        await ready.Task;
        Task committed;
        lock (gate)
        {
            if (!statuses.TryGetValue(runId, out var status)) return new(CommandOutcome.NotFound);
            if (status is not (RunStatus.Paused or RunStatus.Interrupted))
            {
                string why = status == RunStatus.Running && current?.Request == JobRequest.Pause
                    ? "The run is pausing; resume it once it is Paused."
                    : $"A {status} run cannot be resumed; only Paused and Interrupted runs can.";
                return new(CommandOutcome.Invalid, why);
            }
            if (DatabaseFull() is { } full) return full;
            committed = TransitionLocked(runId, status, RunStatus.Queued, "resumed");
            queue.AddLast(runId);
            committed = TryStartNextLocked() ?? committed;
        }
        await committed;
        return new(CommandOutcome.Done);
    }

    public async Task<CommandResult> StopAsync(int runId)
    {
        await ready.Task;
        Task committed;
        lock (gate)
        {
            if (!statuses.TryGetValue(runId, out var status)) return new(CommandOutcome.NotFound);
            switch (status)
            {
                case RunStatus.Running or RunStatus.Queued or RunStatus.Paused or RunStatus.Interrupted
                    when current?.RunId != runId && DatabaseFull() is { } full:
                    return full;
                case RunStatus.Running when external.Contains(runId):
                    committed = TransitionLocked(runId, status, RunStatus.Stopped, "stopped watching");
                    break;
                case RunStatus.Running when current?.RunId == runId:
                    if (current.Request is JobRequest.Stop or JobRequest.Shutdown) return new(CommandOutcome.NoOp, "Already stopping.");
                    // One transition at a time: a pending pause has won; stop the run once it is Paused.
                    if (current.Request == JobRequest.Pause) return new(CommandOutcome.Invalid, "The run is pausing; stop it once it is Paused.");
                    current.Request = JobRequest.Stop;
                    return new(CommandOutcome.Accepted, "Stopping at the end of the current step.");
                case RunStatus.Stopped:
                    return new(CommandOutcome.NoOp, "Already stopped.");
                case RunStatus.Queued or RunStatus.Paused or RunStatus.Interrupted:
                    queue.Remove(runId);
                    committed = TransitionLocked(runId, status, RunStatus.Stopped, $"stopped while {status.ToString().ToLowerInvariant()}");
                    break;
                default:
                    return new(CommandOutcome.Invalid, $"A {status} run cannot be stopped.");
            }
        }
        await committed;
        return new(CommandOutcome.Done);
    }

    /// <summary>Forgets a run that is neither queued nor training, so its rows and folder can be deleted.</summary>
    public async Task<CommandResult> ForgetAsync(int runId)
    {
        await ready.Task;
        lock (gate)
        {
            if (!statuses.TryGetValue(runId, out var status)) return new(CommandOutcome.NotFound);
            if (status is RunStatus.Queued or RunStatus.Running) return new(CommandOutcome.Invalid, $"The run is {status}; stop or pause it first.");
            statuses.Remove(runId);
            external.Remove(runId);
            return new(CommandOutcome.Done);
        }
    }

    /// <summary>Whether a Queued, Running or Paused run trains on this dataset (it must not be deleted).</summary>
    public bool IsActive(int runId)
    {
        lock (gate) return statuses.TryGetValue(runId, out var s) && s is RunStatus.Queued or RunStatus.Running or RunStatus.Paused;
    }

    /// <summary>On shut-down the current run stops at a step boundary with a checkpoint and is marked Interrupted.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        Task running;
        lock (gate)
        {
            shuttingDown = true;
            if (current is not null) current.Request = JobRequest.Shutdown;
            running = currentTask;
        }
        await Task.WhenAny(running, Task.Delay(Timeout.Infinite, cancellationToken));
        await base.StopAsync(cancellationToken);
    }

    private string Redact(string message) => ShownPaths.Redact(message, settings.DataDirectory);

    private Task TransitionLocked(int runId, RunStatus from, RunStatus to, string reason, long? resetAfterStep = null, string? device = null)
    {
        statuses[runId] = to;
        var e = new TransitionEvent(runId, from, to, reason, DateTime.UtcNow) { ResetAfterStep = resetAfterStep, Device = device };
        writer.Post(e);
        return e.Committed.Task;
    }

    /// <summary>Starts the oldest queued run when the device is free; returns its Running transition's commit.</summary>
    private Task? TryStartNextLocked()
    {
        if (current is not null || shuttingDown || queue.First is null) return null;
        int runId = queue.First.Value;
        queue.RemoveFirst();
        var folder = new RunFolder(RunDirectory(runId));
        folder.CleanTemporary();
        long resumeStep = folder.NewestCheckpoint()?.Step ?? 0;
        string device = DeviceName();
        statuses[runId] = RunStatus.Running;
        var started = new TransitionEvent(runId, RunStatus.Queued, RunStatus.Running,
            resumeStep > 0 ? $"training from checkpoint step {resumeStep}" : "training from step 0", DateTime.UtcNow)
        { ResetAfterStep = resumeStep, Device = device };
        writer.Post(started);
        var job = new TrainingJob(runId, started, RunDirectory(runId), dbFactory, writer, datasets, settings, log, PeakFlops);
        current = job;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // A named thread of its own: libtorch's OpenMP workers inherit the name, so the training's CPU time can be
        // told from the server's in `top -H` and /proc (the dashboard-cost benchmark does).
        new Thread(() =>
        {
            try { Finish(job, job.Run()); }
            catch (Exception ex) { log.LogError(ex, "The training thread failed after run {RunId}", job.RunId); } // an unhandled one would end the process
            finally { done.TrySetResult(); }
        }) { Name = TrainingThreadName, IsBackground = true }.Start();
        currentTask = done.Task;
        return started.Committed.Task;
    }

    /// <summary>The training thread's last act: the run's final status, then the next queued run.</summary>
    private void Finish(TrainingJob job, (RunStatus Status, string Reason) end)
    {
        lock (gate)
        {
            current = null;
            if (statuses.ContainsKey(job.RunId)) TransitionLocked(job.RunId, RunStatus.Running, end.Status, end.Reason);
            TryStartNextLocked();
        }
    }

    /// <summary>The device's peak for MFU: the setting, or measured once (on the training thread, before the first run).</summary>
    private double PeakFlops()
    {
        if (peakFlops <= 0)
            peakFlops = settings.PeakFlops > 0 ? settings.PeakFlops : MatmulCeiling.Measure(Devices.Resolve(settings.Device), TimeSpan.FromSeconds(0.5));
        return peakFlops;
    }

    private string DeviceName()
    {
        try { return Devices.Resolve(settings.Device).type.ToString().ToLowerInvariant(); }
        catch (ArgumentException) { return settings.Device; }
    }
}
