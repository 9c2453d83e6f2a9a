using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using WebLlm.Contracts;
using WebLlm.Server.Persistence;
using WebLlm.Server.Runs;

namespace WebLlm.Server.Live;

/// <summary>
/// Pushes committed training events to the hub. Step metrics are coalesced per run: one push carries
/// every step since the previous push, in order, at most one push per <see cref="Window"/> per run. Other
/// events flush that run's pending steps first, so a client sees them in the order they happened.
/// Runs that trained since the last summary get a RunUpdated about once a second.
/// </summary>
public sealed class Broadcaster(HubSubscribers hub, IDbContextFactory<WebLlmDb> dbFactory) : BackgroundService
{
    public static readonly TimeSpan Window = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan SummaryEvery = TimeSpan.FromSeconds(1);

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
                        FlushSteps(pending, e.RunId);
                        await PushAsync(e);
                    }
                }
                foreach (var runId in pending.Keys.ToList()) FlushSteps(pending, runId);
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

    private void FlushSteps(Dictionary<int, List<StepMetricDto>> pending, int runId)
    {
        if (!pending.Remove(runId, out var steps) || steps.Count == 0) return;
        var columns = StepColumns.Encode(steps); // once for every connection
        hub.Send([RunGroup(runId)], c => c.StepMetrics(runId, columns));
    }

    private async Task PushAsync(RunEvent e)
    {
        string[] group = [RunGroup(e.RunId)];
        switch (e)
        {
            case EvalEvent v: hub.Send(group, c => c.Eval(e.RunId, v.Eval)); break;
            case SampleEvent p: hub.Send(group, c => c.Sample(e.RunId, p.Sample)); break;
            case CheckpointSaved k: hub.Send(group, c => c.Checkpoint(e.RunId, k.Checkpoint)); break;
            case SystemEvent y: hub.Send(group, c => c.SystemMetrics(e.RunId, y.Metric)); break;
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
        hub.Send([RunGroup(runId), RunsGroup], c => c.RunUpdated(dto));
    }
}
