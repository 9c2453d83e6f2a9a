using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR;
using Microsoft.EntityFrameworkCore;
using WebLlm.Contracts;
using WebLlm.Server.Persistence;
using WebLlm.Server.Runs;

namespace WebLlm.Server.Training;

/// <summary>
/// Pushes committed training events to the hub. Step metrics are coalesced per run: one push carries
/// every step since the previous push, in order, at most one push per <see cref="Window"/> per run. Other
/// events flush that run's pending steps first, so a client sees them in the order they happened.
/// Runs that trained since the last summary get a RunUpdated about once a second.
/// </summary>
public sealed class Broadcaster(IHubContext<TrainingHub, ITrainingClient> hub, IDbContextFactory<WebLlmDb> dbFactory, ILogger<Broadcaster> log) : BackgroundService
{
    public static readonly TimeSpan Window = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan SummaryEvery = TimeSpan.FromSeconds(1);
    /// <summary>A client whose buffer is full makes a send wait; past this the broadcaster moves on without it.</summary>
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(5);

    private readonly Channel<IReadOnlyList<RunEvent>> channel = Channel.CreateUnbounded<IReadOnlyList<RunEvent>>(new UnboundedChannelOptions { SingleReader = true });

    public void Post(IReadOnlyList<RunEvent> committed)
    {
        if (committed.Count > 0) channel.Writer.TryWrite(committed);
    }

    public static string RunGroup(int runId) => $"run-{runId}";
    public const string RunsGroup = "runs";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var pending = new Dictionary<int, List<StepMetricDto>>();
        var trained = new HashSet<int>();
        var lastSummary = DateTime.UtcNow;
        try
        {
            while (await channel.Reader.WaitToReadAsync(stoppingToken))
            {
                while (channel.Reader.TryRead(out var events))
                {
                    foreach (var e in events)
                    {
                        if (e is StepEvent s)
                        {
                            if (!pending.TryGetValue(s.RunId, out var list)) pending[s.RunId] = list = [];
                            list.Add(s.Metric);
                            trained.Add(s.RunId);
                            continue;
                        }
                        await FlushStepsAsync(pending, e.RunId);
                        await PushAsync(e);
                    }
                }
                foreach (var runId in pending.Keys.ToList()) await FlushStepsAsync(pending, runId);
                if (DateTime.UtcNow - lastSummary >= SummaryEvery && trained.Count > 0)
                {
                    foreach (var runId in trained) await PushRunAsync(runId);
                    trained.Clear();
                    lastSummary = DateTime.UtcNow;
                }
                await Task.Delay(Window, stoppingToken); // the coalescing window: everything arriving meanwhile goes in the next push
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task FlushStepsAsync(Dictionary<int, List<StepMetricDto>> pending, int runId)
    {
        if (!pending.Remove(runId, out var steps) || steps.Count == 0) return;
        await SendAsync(hub.Clients.Group(RunGroup(runId)).StepMetrics(runId, steps));
    }

    private async Task PushAsync(RunEvent e)
    {
        var group = hub.Clients.Group(RunGroup(e.RunId));
        switch (e)
        {
            case EvalEvent v: await SendAsync(group.Eval(e.RunId, v.Eval)); break;
            case SampleEvent p: await SendAsync(group.Sample(e.RunId, p.Sample)); break;
            case CheckpointSaved c: await SendAsync(group.Checkpoint(e.RunId, c.Checkpoint)); break;
            case SystemEvent y: await SendAsync(group.SystemMetrics(e.RunId, y.Metric)); break;
            case TransitionEvent or ResumedEvent: await PushRunAsync(e.RunId); break;
            case UnwrittenStatus u: await PushRunAsync(e.RunId, dto => dto with { Status = u.Transition.To, StatusReason = u.Transition.Reason }); break;
        }
    }

    /// <summary>The run as stored now, to its own group and to the run list.</summary>
    public async Task PushRunAsync(int runId, Func<RunDto, RunDto>? unwritten = null)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var run = await db.Runs.AsNoTracking().FirstOrDefaultAsync(r => r.Id == runId);
        if (run is null) return;
        var dto = RunMapping.ToDto(run);
        if (unwritten is not null) dto = unwritten(dto);
        await SendAsync(hub.Clients.Groups(RunGroup(runId), RunsGroup).RunUpdated(dto));
    }

    private async Task SendAsync(Task send)
    {
        try
        {
            if (await Task.WhenAny(send, Task.Delay(SendTimeout)) != send)
                log.LogWarning("A hub push took over {Timeout}; continuing without waiting for it", SendTimeout);
            else
                await send;
        }
        catch (Exception ex)
        {
            log.LogWarning(ex, "A hub push failed");
        }
    }
}
