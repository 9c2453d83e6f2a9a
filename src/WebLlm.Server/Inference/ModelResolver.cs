using System.Globalization;
using Microsoft.EntityFrameworkCore;
using WebLlm.Contracts;
using WebLlm.Server.Persistence;
using WebLlm.Server.Runs;
using WebLlm.Training.Checkpoints;

namespace WebLlm.Server.Inference;

/// <summary>A run's checkpoint picked for one request: looked up at request start, never changed during it.</summary>
public sealed record ResolvedModel(int RunId, string RunName, CheckpointInfo Checkpoint)
{
    /// <summary>The checkpoint as a /v1 model name: <c>run@step</c>.</summary>
    public string Name => string.Create(CultureInfo.InvariantCulture, $"{RunId}@{Checkpoint.Step}");
}

/// <summary>
/// Turns a model name into a run's checkpoint. Names: a run id (<c>3</c>), a run name (<c>tiny-3</c>), either
/// with <c>@step</c> for a specific checkpoint; without it the newest complete checkpoint at this moment.
/// </summary>
public sealed class ModelResolver(TrainingService training)
{
    public string CheckpointsDirectory(int runId) => new RunFolder(training.RunDirectory(runId)).Checkpoints;

    public async Task<ResolvedModel> ResolveAsync(WebLlmDb db, string? model, string field, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(model))
            throw new GenerationException(400, ErrorCodes.ValidationFailed, "model is required: a run id or name, optionally with @step (see GET /v1/models)", field);
        string runPart = model;
        long? step = null;
        int at = model.LastIndexOf('@');
        if (at >= 0)
        {
            if (!long.TryParse(model.AsSpan(at + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long s) || s < 1)
                throw new GenerationException(400, ErrorCodes.ValidationFailed, $"'{model}': the part after @ must be a checkpoint step (a positive whole number)", field);
            runPart = model[..at];
            step = s;
        }
        var run = int.TryParse(runPart, NumberStyles.None, CultureInfo.InvariantCulture, out int id)
            ? await db.Runs.AsNoTracking().Where(r => r.Id == id).Select(r => new { r.Id, r.Name }).FirstOrDefaultAsync(ct)
            : null;
        run ??= await db.Runs.AsNoTracking().Where(r => r.Name == runPart).OrderByDescending(r => r.Id).Select(r => new { r.Id, r.Name }).FirstOrDefaultAsync(ct);
        if (run is null)
            throw new GenerationException(404, ErrorCodes.RunNotFound, $"The model '{model}' does not exist: no run has the id or name '{runPart}' (GET /v1/models lists them).", field);
        return Resolve(run.Id, run.Name, step, field);
    }

    /// <summary>The newest complete checkpoint of the run, or the one at <paramref name="step"/>.</summary>
    public ResolvedModel Resolve(int runId, string runName, long? step, string field)
    {
        var checkpoints = Checkpoint.List(CheckpointsDirectory(runId));
        if (step is long wanted)
        {
            var exact = checkpoints.FirstOrDefault(c => c.Step == wanted);
            if (exact is null)
                throw new GenerationException(404, ErrorCodes.CheckpointNotFound,
                    $"Run {runId} has no complete checkpoint at step {wanted}; it has {(checkpoints.Count == 0 ? "none yet" : string.Join(", ", checkpoints.Select(c => c.Step)))}.", field);
            return new ResolvedModel(runId, runName, exact);
        }
        if (checkpoints.Count == 0)
            throw new GenerationException(503, ErrorCodes.NoCheckpoint, $"Run {runId} has no complete checkpoint yet; try again once it has written one.", field);
        return new ResolvedModel(runId, runName, checkpoints[^1]);
    }
}
