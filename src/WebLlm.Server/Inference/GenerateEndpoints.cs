using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using WebLlm.Contracts;
using WebLlm.Server.Persistence;
using WebLlm.Server.Training;

namespace WebLlm.Server.Inference;

public static class GenerateEndpoints
{
    public const int MaxTokensLimit = 4096;

    public static IEndpointRouteBuilder MapGenerate(this IEndpointRouteBuilder app)
    {
        app.MapPost(ApiRoutes.Runs + "/{id:int}/generate", Generate).WithTags("Inference");
        return app;
    }

    private static async Task<Results<Ok<GenerateResponse>, ValidationProblem, ProblemHttpResult>> Generate(
        int id, GenerateRequest request, WebLlmDb db, TrainingService training, InferenceCache cache, HttpContext http, CancellationToken ct)
    {
        var errors = Validate(request);
        if (errors.Count > 0) return Problems.Validation(errors);
        if (!await db.Runs.AnyAsync(r => r.Id == id, ct)) return Problems.NotFound(ErrorCodes.RunNotFound, $"No run with id {id}.");
        try
        {
            // A thread-pool thread of its own, synchronously: dispose scopes are per thread and must not span awaits.
            var response = await Task.Run(() => cache.Generate(id, training.RunDirectory(id), request, ct), ct);
            return TypedResults.Ok(response);
        }
        catch (GenerationException ex) when (ex.Field is not null)
        {
            return Problems.Validation(ex.Field, ex.Message);
        }
        catch (GenerationException ex)
        {
            if (ex.Status == StatusCodes.Status503ServiceUnavailable) http.Response.Headers.RetryAfter = "5";
            return Problems.Of(ex.Status, ex.Code, ex.Message);
        }
    }

    private static Dictionary<string, string[]> Validate(GenerateRequest r)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrEmpty(r.Prompt)) errors["prompt"] = ["the prompt must not be empty"];
        if (r.MaxTokens is int n && (n < 1 || n > MaxTokensLimit)) errors["maxTokens"] = [$"maxTokens must be between 1 and {MaxTokensLimit} (got {n})"];
        if (r.Temperature is double t && (!double.IsFinite(t) || t < 0 || t > 5)) errors["temperature"] = [$"temperature must be between 0 and 5 (got {t})"];
        if (r.TopK is int k && k < 0) errors["topK"] = [$"topK must be 0 (off) or positive (got {k})"];
        if (r.TopP is double p && (!double.IsFinite(p) || p <= 0 || p > 1)) errors["topP"] = [$"topP must be in (0, 1] (got {p})"];
        if (r.Stop is { } stop && (stop.Count > 8 || stop.Any(string.IsNullOrEmpty))) errors["stop"] = ["at most 8 stop strings, none empty"];
        if (r.Step is long s && s < 1) errors["step"] = [$"step must be positive (got {s})"];
        return errors;
    }
}
