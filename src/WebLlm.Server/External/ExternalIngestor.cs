using Microsoft.EntityFrameworkCore;
using WebLlm.Contracts;
using WebLlm.Server.Persistence;
using WebLlm.Server.Live;

namespace WebLlm.Server.External;

/// <summary>
/// Turns ingested steps into the events the training thread produces for local runs. A step at or below the
/// highest one already taken is a duplicate (a restarted watcher re-reads its log; a resumed llm.c replays steps
/// after its checkpoint) and is dropped; the highest step is remembered here because the writer commits later.
/// </summary>
public sealed class ExternalIngestor(MetricWriter writer)
{
    private sealed record State(DateTime Created, long Step, long Eval, double Elapsed);

    private readonly Dictionary<int, State> seen = [];
    private readonly SemaphoreSlim gate = new(1, 1);

    public async Task<(int Accepted, int Duplicates, int Evals, long LastStep)> IngestAsync(WebLlmDb db, RunEntity run, IngestMetricsRequest request)
    {
        await gate.WaitAsync();
        try
        {
            // Keyed by creation time too: SQLite may give a deleted run's id to a new run.
            if (!seen.TryGetValue(run.Id, out var state) || state.Created != run.CreatedUtc)
            {
                long step = await db.StepMetrics.Where(m => m.RunId == run.Id).MaxAsync(m => (long?)m.Step) ?? -1;
                long eval = await db.Evals.Where(m => m.RunId == run.Id).MaxAsync(m => (long?)m.Step) ?? -1;
                state = new State(run.CreatedUtc, step, eval, run.ElapsedSeconds);
            }
            int accepted = 0, duplicates = 0, evals = 0;
            foreach (var s in request.Steps.OrderBy(s => s.Step))
            {
                if (s.Step <= state.Step) { duplicates++; continue; }
                // Training time: the engine's own step times when it reports them, else wall time since registration.
                double elapsed = s.Milliseconds is double ms && double.IsFinite(ms) && ms >= 0
                    ? state.Elapsed + ms / 1000
                    : Math.Max(state.Elapsed, (DateTime.UtcNow - DateTime.SpecifyKind(run.CreatedUtc, DateTimeKind.Utc)).TotalSeconds);
                var metric = new StepMetricDto(s.Step, Clean(s.Loss), Clean(s.LearningRate), Clean(s.GradNorm),
                    Clean(s.TokensPerSecond), Clean(s.Milliseconds), Clean(s.Mfu), s.TokensSeen ?? 0, elapsed, NonFinite: s.Loss is null);
                writer.Post(new StepEvent(run.Id, metric, Skipped: false));
                state = state with { Step = s.Step, Elapsed = elapsed };
                accepted++;
            }
            foreach (var e in request.Evals.OrderBy(e => e.Step))
            {
                if (e.Step <= state.Eval) continue;
                writer.Post(new EvalEvent(run.Id, new EvalDto(e.Step, Clean(e.ValLoss), DateTime.UtcNow)));
                state = state with { Eval = e.Step };
                evals++;
            }
            seen[run.Id] = state;
            return (accepted, duplicates, evals, state.Step);
        }
        finally
        {
            gate.Release();
        }
    }

    private static double? Clean(double? v) => v is double d ? Finite.OrNull(d) : null;
}
