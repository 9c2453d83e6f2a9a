using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using WebLlm.Contracts;
using WebLlm.Server.Persistence;
using WebLlm.Server.Runs;
using WebLlm.Server.Live;

namespace WebLlm.Server.External;

/// <summary>
/// Runs trained by another engine (llm.c, nanoGPT, …): <c>webllm watch</c> or any script creates one and posts
/// its metrics, which go through the same writer and broadcaster as WebLlm's own steps, so they show live in
/// the dashboard. Writing metrics from outside needs the API key, even on loopback.
/// </summary>
public static class ExternalRunEndpoints
{
    public static WebApplicationBuilder AddExternalRuns(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ExternalIngestor>();
        return builder;
    }

    public static IEndpointRouteBuilder MapExternalRuns(this IEndpointRouteBuilder app)
    {
        app.MapPost(ApiRoutes.ExternalRuns, Create).WithTags("External runs");
        app.MapPost(ApiRoutes.Runs + "/{id:int}/metrics", Ingest).WithTags("External runs");
        return app;
    }

    private static async Task<Results<Created<RunDto>, ValidationProblem, ProblemHttpResult>> Create(
        CreateExternalRunRequest request, WebLlmDb db, TrainingService training, IOptions<WebLlmOptions> options)
    {
        if (Authorize(options.Value) is { } denied) return denied;
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(request.Name) || request.Name.Length > 200) errors["name"] = ["A name of 1 to 200 characters is required."];
        if (string.IsNullOrWhiteSpace(request.Engine) || request.Engine.Length > 100) errors["engine"] = ["An engine name of 1 to 100 characters is required (e.g. llm.c)."];
        if (request.MaxSteps is < 1) errors["maxSteps"] = ["maxSteps must be positive."];
        if (request.Source is { Length: > 1000 }) errors["source"] = ["source must be at most 1000 characters."];
        if (errors.Count > 0) return Problems.Validation(errors);
        if (training.DatabaseFullMessage() is { } full) return Problems.DiskFull(full);

        var run = new RunEntity
        {
            Name = request.Name.Trim(),
            Preset = "external",
            Engine = request.Engine.Trim(),
            Source = request.Source,
            ModelConfigJson = JsonSerializer.Serialize(new ModelConfigDto(0, 0, 0, 0, 0, 0, true, 0), RunMapping.Json),
            TrainingConfigJson = JsonSerializer.Serialize(new TrainingConfigDto(request.MaxSteps ?? 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, [], 0), RunMapping.Json),
            DatasetName = request.Source is null ? null : Path.GetFileName(request.Source),
            Status = RunStatus.Queued,
            CreatedUtc = DateTime.UtcNow,
        };
        db.Runs.Add(run);
        await db.SaveChangesAsync();
        await training.AddExternalAsync(run.Id, $"watching {request.Engine.Trim()}");
        db.ChangeTracker.Clear();
        var created = await db.Runs.FindAsync(run.Id);
        return TypedResults.Created(ApiRoutes.Run(run.Id), RunMapping.ToDto(created!));
    }

    private static async Task<Results<Ok<IngestResult>, ValidationProblem, ProblemHttpResult>> Ingest(
        int id, IngestMetricsRequest request, WebLlmDb db, TrainingService training, ExternalIngestor ingestor, MetricWriter writer,
        IOptions<WebLlmOptions> options)
    {
        if (Authorize(options.Value) is { } denied) return denied;
        if (training.DatabaseFullMessage() is { } full) return Problems.DiskFull(full);
        if (await db.Runs.FindAsync(id) is not { } run) return Problems.NotFound(ErrorCodes.RunNotFound, $"Run {id} does not exist.");
        if (run.Engine is null) return Problems.Conflict(ErrorCodes.NotExternal, $"Run {id} is trained by this server; only external runs take metrics from outside.");
        if (request.Steps.Count + request.Evals.Count > 100_000) return Problems.Validation("steps", "At most 100,000 steps and evals per request.");
        if (request.Steps.Any(s => s.Step < 0) || request.Evals.Any(e => e.Step < 0)) return Problems.Validation("steps", "Steps must be 0 or more.");

        var (accepted, duplicates, evals, last) = await ingestor.IngestAsync(db, run, request);
        // Answer once they are stored: "accepted" then means on disk, and a sender that posts faster than the database
        // writes waits instead of piling events up in the writer's memory. On a full disk they wait in the writer until
        // space returns; the sender hears so now and may send them again later (a step already taken is ignored).
        if (accepted + evals > 0 && !await writer.StoredAsync(id) && training.DatabaseFullMessage() is { } nowFull)
            return Problems.DiskFull(nowFull);
        if (request.Status is RunStatus to)
        {
            var result = await training.ExternalStatusAsync(id, to, request.Reason is { Length: > 0 } r ? r[..Math.Min(r.Length, 500)] : $"reported {to}");
            if (result.Outcome == CommandOutcome.Invalid) return Problems.Conflict(ErrorCodes.InvalidTransition, result.Message!);
        }
        else if (training.IsExternal(id) && run.Status != RunStatus.Running && accepted > 0)
        {
            await training.ExternalStatusAsync(id, RunStatus.Running, "metrics arriving");
        }
        db.ChangeTracker.Clear();
        var status = (await db.Runs.FindAsync(id))!.Status;
        return TypedResults.Ok(new IngestResult(id, accepted, duplicates, evals, last, status));
    }

    /// <summary>
    /// Writing a run's metrics from outside is allowed only when the server has an API key; the security
    /// middleware has already checked the request's Bearer key against it.
    /// </summary>
    internal static ProblemHttpResult? Authorize(WebLlmOptions options) =>
        string.IsNullOrEmpty(options.ApiKey)
            ? Problems.Of(StatusCodes.Status403Forbidden, ErrorCodes.ApiKeyRequired,
                "External runs need an API key: start the server with WebLlm:ApiKey set and send it as 'Authorization: Bearer <key>'.")
            : null;
}
