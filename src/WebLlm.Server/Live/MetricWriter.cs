using System.Security.Cryptography;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using WebLlm.Contracts;
using WebLlm.Server.Persistence;
using WebLlm.Training.Checkpoints;

namespace WebLlm.Server.Live;

/// <summary>
/// The one database writer for training output. The training thread posts without ever waiting (the
/// channel is unbounded: a step is a few hundred bytes and the writer commits thousands per second);
/// this loop drains what has arrived, inserts it in one transaction, then forwards it to the broadcaster.
/// </summary>
/// <remarks>
/// Steps and system metrics gather for up to <see cref="GatherWindow"/> before they are written: a small model
/// posts a step every few tens of milliseconds, and a transaction for each one wakes this loop (and the
/// broadcaster) that often, each time taking a core from libtorch's OpenMP threads, whose parallel regions
/// then wait for it. Anything else (a status change a request waits for, an eval, a checkpoint) ends the wait.
/// </remarks>
public sealed class MetricWriter(IDbContextFactory<WebLlmDb> dbFactory, Broadcaster broadcaster, ILogger<MetricWriter> log) : BackgroundService
{
    private const int MaxBatch = 2000;
    /// <summary>
    /// At most one write (and push) a second from a fast run: as often as the run page draws. Four a second cost the
    /// browser a fifth more script time (each push is several interpreted tasks whatever its size) and the server
    /// 0.007 cores more, on the cores the training needs (docs/PERFORMANCE.md, "The dashboard's cost").
    /// </summary>
    public static readonly TimeSpan GatherWindow = TimeSpan.FromMilliseconds(1000);
    private readonly Channel<RunEvent> channel = Channel.CreateUnbounded<RunEvent>(new UnboundedChannelOptions { SingleReader = true });
    /// <summary>Completed when an event that should not wait for the gather window was posted.</summary>
    private TaskCompletionSource urgent = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Called when a batch could not be committed because the disk is full (the training service pauses the run).</summary>
    public Action<Exception>? DatabaseDiskFull { get; set; }

    /// <summary>How many times a batch is retried on a full disk before it is given up (about 2 s apart): an hour.</summary>
    private int DiskFullRetries { get; set; } = 1800;

    private readonly List<RunEvent> retry = [];

    private void RequeueFront(List<RunEvent> batch) => retry.AddRange(batch);

    private volatile Exception? diskFull;
    private static readonly IReadOnlyDictionary<int, TransitionEvent> NothingHeldBack = System.Collections.Frozen.FrozenDictionary<int, TransitionEvent>.Empty;
    private volatile IReadOnlyDictionary<int, TransitionEvent> unwritten = NothingHeldBack;

    /// <summary>Why the last batch could not be committed, while the disk is full; null once a batch commits again.</summary>
    public Exception? DiskFullError => diskFull;

    /// <summary>
    /// A run as clients should see it: while the disk is full its newest status change waits here, not in the
    /// database, and a paused run must not look Running (REST and the hub read the stored row through this).
    /// </summary>
    public RunDto Live(RunDto stored) =>
        unwritten.TryGetValue(stored.Id, out var t) ? stored with { Status = t.To, StatusReason = t.Reason } : stored;

    /// <summary>Never blocks.</summary>
    public void Post(RunEvent e)
    {
        if (!channel.Writer.TryWrite(e))
        {
            if (e is AwaitedEvent a) a.Committed.TrySetException(new InvalidOperationException("The server is shutting down."));
        }
        else if (e is not (StepEvent or SystemEvent))
        {
            Volatile.Read(ref urgent).TrySetResult();
        }
    }

    /// <summary>
    /// Completes once everything posted for <paramref name="runId"/> so far is committed (true), or as soon as the
    /// database's disk is full (false: the events wait here until space returns, and a caller should not).
    /// </summary>
    public async Task<bool> StoredAsync(int runId)
    {
        var stored = new FlushEvent(runId);
        Post(stored);
        while (await Task.WhenAny(stored.Committed.Task, Task.Delay(100)) != stored.Committed.Task)
        {
            if (diskFull is not null) return false;
        }
        await stored.Committed.Task; // a write that failed otherwise throws here
        return true;
    }

    /// <summary>Drains everything already posted before the host stops (the training service stops first).</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        channel.Writer.TryComplete();
        Volatile.Read(ref urgent).TrySetResult();
        if (ExecuteTask is not null) await Task.WhenAny(ExecuteTask, Task.Delay(Timeout.Infinite, cancellationToken));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<RunEvent>();
        // Not cancelled by stoppingToken: the loop ends when StopAsync completes the channel and it is empty.
        while (retry.Count > 0 || await channel.Reader.WaitToReadAsync(CancellationToken.None))
        {
            // After a full batch more is waiting (an external run's history posted at once): no gathering, or a
            // 200,000-step upload would take 100 s at one 2,000-row batch a second.
            bool backlog = batch.Count >= MaxBatch;
            batch.Clear();
            batch.AddRange(retry); // a batch the full disk refused, first and in order
            retry.Clear();
            var signal = Volatile.Read(ref urgent);
            if (!signal.Task.IsCompleted && !backlog) await Task.WhenAny(signal.Task, Task.Delay(GatherWindow, CancellationToken.None));
            // Reset before draining: an urgent event posted from here on is either in this batch or starts the next one at once.
            if (signal.Task.IsCompleted) Interlocked.CompareExchange(ref urgent, new(TaskCreationOptions.RunContinuationsAsynchronously), signal);
            while (batch.Count < MaxBatch && channel.Reader.TryRead(out var e)) batch.Add(e);
            try
            {
                var committed = await WriteAsync(batch);
                if (diskFull is not null) (diskFull, unwritten) = (null, NothingHeldBack);
                broadcaster.Post(committed);
                foreach (var a in batch.OfType<AwaitedEvent>()) a.Committed.TrySetResult();
            }
            catch (Exception ex) when (DiskFull.Is(ex) && DiskFullRetries-- > 0)
            {
                // Disk full: keep the batch (no step may go missing), pause the run, retry until space is freed.
                log.LogError("The database disk is full; the run pauses and {Count} events wait for space: {Message}", batch.Count, ex.Message);
                diskFull = ex;
                var transitions = batch.OfType<TransitionEvent>().GroupBy(t => t.RunId).ToDictionary(g => g.Key, g => g.Last());
                unwritten = transitions;
                // The status changes stuck in the batch reach the clients now (from memory), not when space returns.
                broadcaster.Post([.. transitions.Values.Select(t => new UnwrittenStatus(t))]);
                DatabaseDiskFull?.Invoke(ex);
                await Task.Delay(TimeSpan.FromSeconds(2));
                RequeueFront(batch);
            }
            catch (Exception ex)
            {
                log.LogError(ex, "Writing {Count} training events failed; they are lost", batch.Count);
                foreach (var a in batch.OfType<AwaitedEvent>()) a.Committed.TrySetException(ex);
            }
        }
    }

    private async Task<List<RunEvent>> WriteAsync(List<RunEvent> batch)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        await using var tx = await db.Database.BeginTransactionAsync();
        var runs = new Dictionary<int, RunEntity?>();
        var committed = new List<RunEvent>(batch.Count);
        foreach (var e in batch)
        {
            if (e is FlushEvent) continue; // only a marker: committed with the rest
            if (!runs.TryGetValue(e.RunId, out var run)) runs[e.RunId] = run = await db.Runs.FindAsync(e.RunId);
            if (run is null) continue; // deleted meanwhile: its rows would break the foreign key
            committed.Add(await ApplyAsync(db, run, e));
        }
        await db.SaveChangesAsync();
        await tx.CommitAsync();
        return committed;
    }

    private static async Task<RunEvent> ApplyAsync(WebLlmDb db, RunEntity run, RunEvent e)
    {
        switch (e)
        {
            case StepEvent s:
                var m = s.Metric;
                db.StepMetrics.Add(new StepMetricEntity
                {
                    RunId = run.Id, Step = m.Step, Loss = m.Loss, LearningRate = m.LearningRate, GradNorm = m.GradNorm,
                    TokensPerSecond = m.TokensPerSecond, Milliseconds = m.Milliseconds, Mfu = m.Mfu, TokensSeen = m.TokensSeen,
                    ElapsedSeconds = m.ElapsedSeconds, NonFinite = m.NonFinite, Skipped = s.Skipped,
                });
                if (s.Skipped) run.SkippedSteps++;
                run.CurrentStep = m.Step;
                run.ElapsedSeconds = m.ElapsedSeconds;
                run.LastLoss = m.Loss ?? run.LastLoss;
                run.TokensPerSecond = m.TokensPerSecond;
                run.Mfu = m.Mfu;
                return e;
            case EvalEvent v:
                db.Evals.Add(new EvalEntity { RunId = run.Id, Step = v.Eval.Step, ValLoss = v.Eval.ValLoss, NonFinite = v.Eval.ValLoss is null, Utc = v.Eval.Utc });
                run.LastValLoss = v.Eval.ValLoss;
                if (v.Eval.ValLoss is double val && (run.BestValLoss is null || val < run.BestValLoss)) run.BestValLoss = val;
                return e;
            case SampleEvent p:
                db.Samples.Add(new SampleEntity { RunId = run.Id, Step = p.Sample.Step, Prompt = p.Sample.Prompt, Text = p.Sample.Text, Utc = p.Sample.Utc });
                return e;
            case CheckpointWritten c:
                var dto = new CheckpointDto(c.Info.Step, c.Info.SizeBytes, c.Info.ModelSha256 ?? await HashAsync(c.Info.Directory), c.Info.ValLoss is double cv ? Finite.OrNull(cv) : null, c.Utc);
                // A replayed stretch (resume from an older checkpoint) rewrites the folder of the same step;
                // retention removed the folders of the pruned steps.
                await db.SaveChangesAsync();
                long[] gone = [dto.Step, .. c.Info.Pruned];
                await db.Checkpoints.Where(x => x.RunId == run.Id && gone.Contains(x.Step)).ExecuteDeleteAsync();
                db.Checkpoints.Add(new CheckpointEntity { RunId = run.Id, Step = dto.Step, Path = c.Info.Directory, SizeBytes = dto.SizeBytes, Sha256 = dto.Sha256, ValLoss = dto.ValLoss, Utc = dto.Utc });
                run.LatestCheckpointStep = Math.Max(run.LatestCheckpointStep ?? 0, dto.Step);
                return new CheckpointSaved(run.Id, dto);
            case ResumedEvent r:
                long from = r.ResumedFrom ?? 0;
                await db.SaveChangesAsync();
                long[] corrupt = r.Corrupt.Select(x => x.Step).ToArray();
                await db.Checkpoints.Where(x => x.RunId == run.Id && corrupt.Contains(x.Step)).ExecuteUpdateAsync(u => u.SetProperty(x => x.Corrupt, true));
                await RunRows.DeleteAfterAsync(db, run.Id, from, keepCorrupt: true);
                run.CurrentStep = from;
                run.LatestCheckpointStep = r.ResumedFrom;
                run.ResumedFromStep = r.ResumedFrom;
                run.SkippedSteps = await db.StepMetrics.CountAsync(x => x.RunId == run.Id && x.Skipped);
                if (r.Corrupt.Count > 0)
                {
                    run.StatusReason = $"checkpoint(s) {string.Join(", ", corrupt)} failed verification; training from " + (r.ResumedFrom is long f ? $"checkpoint step {f}" : "step 0");
                    db.RunTransitions.Add(new RunTransitionEntity { RunId = run.Id, From = run.Status, To = run.Status, Reason = run.StatusReason, Utc = DateTime.UtcNow });
                }
                return e;
            case SystemEvent y:
                var s2 = y.Metric;
                db.SystemMetrics.Add(new SystemMetricEntity { RunId = run.Id, Utc = s2.Utc, CpuPercent = s2.CpuPercent, ResidentBytes = s2.ResidentBytes, GcHeapBytes = s2.GcHeapBytes, GpuPercent = s2.GpuPercent, GpuMemoryBytes = s2.GpuMemoryBytes });
                return e;
            case TransitionEvent t:
                if (t.ResetAfterStep is long after)
                {
                    // Flush first so the delete sees (and removes) everything queued before this event.
                    await db.SaveChangesAsync();
                    await RunRows.DeleteAfterAsync(db, run.Id, after);
                    run.CurrentStep = after;
                    run.LatestCheckpointStep = after > 0 ? after : null;
                    run.ResumedFromStep = after > 0 ? after : null;
                    run.SkippedSteps = await db.StepMetrics.CountAsync(x => x.RunId == run.Id && x.Skipped);
                }
                run.Status = t.To;
                run.StatusReason = t.Reason;
                if (t.Device is not null) run.Device = t.Device;
                if (t.To == RunStatus.Running) run.StartedUtc ??= t.Utc;
                if (t.To is RunStatus.Completed or RunStatus.Stopped or RunStatus.Failed) run.EndedUtc = t.Utc;
                if (t.To is RunStatus.Queued or RunStatus.Running) run.EndedUtc = null;
                db.RunTransitions.Add(new RunTransitionEntity { RunId = run.Id, From = t.From, To = t.To, Reason = t.Reason, Utc = t.Utc });
                return e;
            default:
                throw new ArgumentOutOfRangeException(nameof(e), e.GetType().Name, "Unknown run event.");
        }
    }

    /// <summary>SHA-256 of the weights file, the part of a checkpoint people download and compare.</summary>
    private static async Task<string> HashAsync(string checkpointDir)
    {
        try
        {
            await using var stream = File.OpenRead(Path.Combine(checkpointDir, Checkpoint.ModelFile));
            return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream));
        }
        catch (IOException)
        {
            return ""; // replaced by a newer write of the same step; that write brings its own hash
        }
    }
}

/// <summary>Row maintenance shared by the writer and start-up recovery.</summary>
public static class RunRows
{
    /// <summary>Removes per-step rows after <paramref name="step"/>: the curve restarts there without duplicates.</summary>
    /// <param name="keepCorrupt">Keep checkpoint rows flagged corrupt (so the API can show them) until a replay rewrites their step.</param>
    public static async Task DeleteAfterAsync(WebLlmDb db, int runId, long step, bool keepCorrupt = false)
    {
        await db.StepMetrics.Where(x => x.RunId == runId && x.Step > step).ExecuteDeleteAsync();
        await db.Evals.Where(x => x.RunId == runId && x.Step > step).ExecuteDeleteAsync();
        await db.Samples.Where(x => x.RunId == runId && x.Step > step).ExecuteDeleteAsync();
        await db.Checkpoints.Where(x => x.RunId == runId && x.Step > step && !(keepCorrupt && x.Corrupt)).ExecuteDeleteAsync();
    }
}
