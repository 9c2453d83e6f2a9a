using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using System.Text.Json;
using WebLlm.Contracts;
using WebLlm.Training.Checkpoints;
using WebLlm.Training.Data;
using WebLlm.Training.Model;
using WebLlm.Server.Persistence;
using WebLlm.Server.Live;

namespace WebLlm.Server.Runs;

public static class RunEndpoints
{
    /// <summary>The scheduler that owns the device and every run's status (after the live pipeline it posts to).</summary>
    public static WebApplicationBuilder AddRuns(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<TrainingService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<TrainingService>());
        return builder;
    }

    public static IEndpointRouteBuilder MapRuns(this IEndpointRouteBuilder app)
    {
        var runs = app.MapGroup(ApiRoutes.Runs).WithTags("Runs");
        runs.MapPost("", Create);
        runs.MapGet("", async (WebLlmDb db, MetricWriter writer) =>
            TypedResults.Ok((await db.Runs.AsNoTracking().OrderByDescending(r => r.Id).ToListAsync()).Select(r => writer.Live(RunMapping.ToDto(r))).ToList()));
        runs.MapGet("{id:int}", async Task<Results<Ok<RunDto>, ProblemHttpResult>> (int id, WebLlmDb db, MetricWriter writer) =>
            await FindAsync(db, id) is { } run ? TypedResults.Ok(writer.Live(RunMapping.ToDto(run))) : RunNotFound(id));
        runs.MapPost("{id:int}/pause", (int id, WebLlmDb db, MetricWriter w, TrainingService t) => Command(id, db, w, t.PauseAsync));
        runs.MapPost("{id:int}/resume", (int id, WebLlmDb db, MetricWriter w, TrainingService t) => Command(id, db, w, t.ResumeAsync));
        runs.MapPost("{id:int}/stop", (int id, WebLlmDb db, MetricWriter w, TrainingService t) => Command(id, db, w, t.StopAsync));
        runs.MapPost("{id:int}/sample", (int id, WebLlmDb db, MetricWriter w, TrainingService t) => Command(id, db, w, run => t.RequestNowAsync(run, checkpoint: false)));
        runs.MapPost("{id:int}/checkpoint", (int id, WebLlmDb db, MetricWriter w, TrainingService t) => Command(id, db, w, run => t.RequestNowAsync(run, checkpoint: true)));
        runs.MapDelete("{id:int}", Delete);
        runs.MapGet("{id:int}/metrics", Metrics);
        runs.MapGet("{id:int}/metrics/columns", MetricColumns)
            .Produces(StatusCodes.Status200OK, contentType: StepColumns.MediaType)
            .WithDescription("The steps of GET /api/runs/{id}/metrics as packed little-endian columns (layout: StepColumns in WebLlm.Contracts).");
        runs.MapGet("{id:int}/evals", (int id, WebLlmDb db) => ListAsync(db, id, db.Evals.Where(e => e.RunId == id).OrderBy(e => e.Step)
            .Select(e => new EvalDto(e.Step, e.ValLoss, e.Utc))));
        runs.MapGet("{id:int}/samples", (int id, WebLlmDb db) => ListAsync(db, id, db.Samples.Where(e => e.RunId == id).OrderBy(e => e.Step).ThenBy(e => e.Id)
            .Select(e => new SampleDto(e.Step, e.Prompt, e.Text, e.Utc))));
        runs.MapGet("{id:int}/checkpoints", (int id, WebLlmDb db) => ListAsync(db, id, db.Checkpoints.Where(e => e.RunId == id).OrderBy(e => e.Step)
            .Select(e => new CheckpointDto(e.Step, e.SizeBytes, e.Sha256, e.ValLoss, e.Utc) { Corrupt = e.Corrupt })));
        runs.MapGet("{id:int}/system", (int id, WebLlmDb db) => ListAsync(db, id, db.SystemMetrics.Where(e => e.RunId == id).OrderBy(e => e.Utc)
            .Select(e => new SystemMetricDto(e.Utc, e.CpuPercent, e.ResidentBytes, e.GcHeapBytes, e.GpuPercent, e.GpuMemoryBytes))));
        runs.MapGet("{id:int}/transitions", (int id, WebLlmDb db) => ListAsync(db, id, db.RunTransitions.Where(e => e.RunId == id).OrderBy(e => e.Id)
            .Select(e => new RunTransitionDto(e.From, e.To, e.Reason, e.Utc))));
        return app;
    }

    private static async Task<Results<Created<RunDto>, ValidationProblem, ProblemHttpResult>> Create(
        CreateRunRequest request, WebLlmDb db, TrainingService training, IOptions<WebLlmOptions> options)
    {
        // A small row may still fit a full database, but the run's start could not be committed: refuse it up front.
        if (training.DatabaseFullMessage() is { } full) return Problems.DiskFull(full);
        var dataset = request.DatasetId is int datasetId
            ? await db.Datasets.FindAsync(datasetId)
            : await db.Datasets.Where(d => d.Builtin).OrderBy(d => d.Id).FirstOrDefaultAsync();
        if (dataset is null) return Problems.Validation("datasetId", $"no dataset with id {request.DatasetId}");
        if (dataset.Status != DatasetStatus.Ready)
            return Problems.Conflict(ErrorCodes.DatasetNotReady, $"Dataset {dataset.Id} ({dataset.Name}) is {dataset.Status}; a run can start once it is Ready.");
        string? initFrom = null;
        GptConfig? initConfig = null;
        if (request.InitFromRunId is int sourceId)
        {
            var source = await FindAsync(db, sourceId);
            var checkpoints = source is null ? [] : new RunFolder(training.RunDirectory(sourceId)).ListCheckpoints();
            var checkpoint = request.InitFromStep is long step ? checkpoints.FirstOrDefault(c => c.Step == step) : checkpoints.LastOrDefault();
            if (checkpoint is null)
                return Problems.Validation("initFromRunId", source is null ? $"no run with id {sourceId}" : $"run {sourceId} has no complete checkpoint{(request.InitFromStep is long s ? $" at step {s}" : "")}");
            var manifest = Checkpoint.ReadManifest(checkpoint.Directory);
            var datasetTokenizer = DatasetMeta.Load(dataset.Directory).Tokenizer;
            if (manifest.Tokenizer.Kind != datasetTokenizer.Kind || manifest.Tokenizer.Vocabulary != datasetTokenizer.Vocabulary)
                return Problems.Validation("datasetId", $"the dataset's {datasetTokenizer.Kind} tokenizer differs from the {manifest.Tokenizer.Kind} tokenizer run {sourceId} was trained with");
            initFrom = checkpoint.Directory;
            initConfig = manifest.Model;
            // The shape is the checkpoint's: validate the request as if it had asked for exactly that shape.
            request = request with { NLayer = initConfig.NLayer, NHead = initConfig.NHead, NEmbd = initConfig.NEmbd, BlockSize = Math.Min(request.BlockSize ?? initConfig.BlockSize, initConfig.BlockSize), Bias = initConfig.Bias, Dropout = initConfig.Dropout };
        }
        var validator = new RunValidator(options.Value.Limits);
        if (validator.Validate(request, dataset) is not var (model, trainingConfig)) return Problems.Validation(validator.Errors);
        if (initConfig is not null) model = initConfig;

        var now = DateTime.UtcNow;
        var run = new RunEntity
        {
            Name = string.IsNullOrWhiteSpace(request.Name) ? "" : request.Name.Trim(),
            Preset = request.Preset,
            ModelConfigJson = JsonSerializer.Serialize(RunMapping.ToDto(model), RunMapping.Json),
            TrainingConfigJson = JsonSerializer.Serialize(trainingConfig, RunMapping.Json),
            DatasetId = dataset.Id,
            DatasetName = dataset.Name,
            Status = RunStatus.Queued,
            StatusReason = "launched",
            CreatedUtc = now,
            InitFromCheckpoint = initFrom,
        };
        db.Runs.Add(run);
        await db.SaveChangesAsync();
        if (run.Name.Length == 0) run.Name = $"{request.Preset}-{run.Id}";
        db.RunTransitions.Add(new RunTransitionEntity { RunId = run.Id, From = null, To = RunStatus.Queued, Reason = "launched", Utc = now });
        await db.SaveChangesAsync();
        await training.LaunchAsync(run.Id);
        var created = (await FindAsync(db, run.Id))!;
        return TypedResults.Created(ApiRoutes.Run(run.Id), RunMapping.ToDto(created));
    }

    /// <summary>Done → 200, Accepted (takes effect at the next step boundary) → 202, a repeated command → 200 with the run as it is.</summary>
    private static async Task<Results<Ok<RunDto>, Accepted<RunDto>, ProblemHttpResult>> Command(int id, WebLlmDb db, MetricWriter writer, Func<int, Task<CommandResult>> command)
    {
        var result = await command(id);
        if (result.Outcome == CommandOutcome.NotFound) return RunNotFound(id);
        if (result.Outcome == CommandOutcome.Invalid) return Problems.Conflict(ErrorCodes.InvalidTransition, result.Message ?? "Invalid transition.");
        if (result.Outcome == CommandOutcome.DiskFull) return Problems.DiskFull(result.Message!);
        db.ChangeTracker.Clear();
        var dto = writer.Live(RunMapping.ToDto((await FindAsync(db, id))!));
        return result.Outcome == CommandOutcome.Accepted ? TypedResults.Accepted(ApiRoutes.Run(id), dto) : TypedResults.Ok(dto);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        int id, WebLlmDb db, TrainingService training, Inference.InferenceCache cache, HubSubscribers hub)
    {
        var result = await training.ForgetAsync(id);
        if (result.Outcome == CommandOutcome.NotFound) return RunNotFound(id);
        if (result.Outcome == CommandOutcome.Invalid) return Problems.Conflict(ErrorCodes.RunActive, result.Message!);
        cache.Forget(id); // its models' memory goes with the run
        await db.Runs.Where(r => r.Id == id).ExecuteDeleteAsync(); // dependent rows go by ON DELETE CASCADE
        string folder = training.RunDirectory(id);
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        hub.Send([Broadcaster.RunGroup(id), Broadcaster.RunsGroup], c => c.RunDeleted(id));
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<MetricsPage>, ValidationProblem, ProblemHttpResult>> Metrics(
        int id, WebLlmDb db, long? fromStep, long? toStep, int? maxPoints)
    {
        var (steps, downsampled, invalid, notFound) = await StepsAsync(id, db, fromStep, toStep, maxPoints);
        if (invalid is not null) return invalid;
        if (notFound is not null) return notFound;
        long from = fromStep ?? 0;
        return TypedResults.Ok(new MetricsPage(id, steps.Count > 0 ? steps[0].Step : from, steps.Count > 0 ? steps[^1].Step : from, downsampled, steps));
    }

    /// <summary>The steps of <see cref="Metrics"/> as <see cref="StepColumns"/> (what the dashboard loads: copied, not parsed).</summary>
    private static async Task<Results<FileContentHttpResult, ValidationProblem, ProblemHttpResult>> MetricColumns(
        int id, WebLlmDb db, long? fromStep, long? toStep, int? maxPoints)
    {
        var (steps, _, invalid, notFound) = await StepsAsync(id, db, fromStep, toStep, maxPoints);
        if (invalid is not null) return invalid;
        if (notFound is not null) return notFound;
        return TypedResults.File(StepColumns.Encode(steps), StepColumns.MediaType);
    }

    private static async Task<(List<StepMetricDto> Steps, bool Downsampled, ValidationProblem? Invalid, ProblemHttpResult? NotFound)> StepsAsync(
        int id, WebLlmDb db, long? fromStep, long? toStep, int? maxPoints)
    {
        if (maxPoints is < 2) return ([], false, Problems.Validation("maxPoints", $"maxPoints must be at least 2 (got {maxPoints})"), null);
        if (!await db.Runs.AnyAsync(r => r.Id == id)) return ([], false, null, RunNotFound(id));
        long from = fromStep ?? 0, to = toStep ?? long.MaxValue; // external engines log a step 0 (llm.c does)
        var range = db.StepMetrics.AsNoTracking().Where(m => m.RunId == id && m.Step >= from && m.Step <= to);
        bool downsampled = maxPoints is int max && await range.CountAsync() > max;
        if (downsampled)
        {
            // A long run (200,000 rows): the kept rows are chosen from steps and losses alone, and only they are loaded whole.
            var losses = await range.OrderBy(m => m.Step).Select(m => new { m.Step, m.Loss }).ToListAsync();
            var kept = Downsampler.MinMax(losses, maxPoints!.Value, s => s.Loss).Select(s => s.Step).ToList();
            range = range.Where(m => kept.Contains(m.Step));
        }
        var steps = (await range.OrderBy(m => m.Step).ToListAsync()).Select(RunMapping.ToDto).ToList();
        return (steps, downsampled, null, null);
    }

    private static async Task<Results<Ok<List<T>>, ProblemHttpResult>> ListAsync<T>(WebLlmDb db, int id, IQueryable<T> query) =>
        await db.Runs.AnyAsync(r => r.Id == id) ? TypedResults.Ok(await query.ToListAsync()) : RunNotFound(id);

    private static Task<RunEntity?> FindAsync(WebLlmDb db, int id) =>
        db.Runs.AsNoTracking().FirstOrDefaultAsync(r => r.Id == id);

    private static ProblemHttpResult RunNotFound(int id) => Problems.NotFound(ErrorCodes.RunNotFound, $"No run with id {id}.");
}
