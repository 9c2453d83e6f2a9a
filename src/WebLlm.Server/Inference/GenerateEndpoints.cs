using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using WebLlm.Contracts;
using WebLlm.Server.Persistence;

namespace WebLlm.Server.Inference;

/// <summary>
/// <c>POST /api/runs/{id}/generate</c>: JSON with timings, or server-sent events with <c>stream: true</c>
/// (<c>start</c>, <c>token</c>…, then <c>done</c> with the whole answer or <c>error</c>). Errors before the first
/// event are ProblemDetails with the HTTP status; see docs/API.md.
/// </summary>
public static class GenerateEndpoints
{
    public const int MaxStopStrings = 8;
    public const int DefaultMaxTokens = 200;

    public static IEndpointRouteBuilder MapGenerate(this IEndpointRouteBuilder app)
    {
        app.MapPost(ApiRoutes.Runs + "/{id:int}/generate", Generate).WithTags("Inference")
            .Produces<GenerateResponse>()
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);
        return app;
    }

    private static async Task<IResult> Generate(int id, GenerateRequest request, WebLlmDb db, ModelResolver models, InferenceEngine engine,
        IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, HttpContext http, CancellationToken ct)
    {
        var errors = Validate(request);
        if (errors.Count > 0) return Problems.Validation(errors);
        var run = await db.Runs.AsNoTracking().Where(r => r.Id == id).Select(r => new { r.Id, r.Name }).FirstOrDefaultAsync(ct);
        if (run is null) return Problems.NotFound(ErrorCodes.RunNotFound, $"No run with id {id}.");
        Generation generation;
        try
        {
            var model = models.Resolve(run.Id, run.Name, request.Step, "step");
            generation = await engine.StartAsync(new GenerationJob
            {
                Model = model,
                Prompts = [request.Prompt],
                MaxTokens = request.MaxTokens,
                DefaultMaxTokens = DefaultMaxTokens,
                Temperature = request.Temperature ?? 0.8,
                TopK = request.TopK ?? 200,
                TopP = request.TopP ?? 1.0,
                Seed = request.Seed ?? 1337,
                Stop = request.Stop ?? [],
                MaxTokensField = "maxTokens",
                WantLogProbs = true, // each token event carries its id and log-probability
            }, ct);
        }
        catch (GenerationException ex)
        {
            return Problem(ex, engine, http);
        }

        if (request.Stream != true)
        {
            try { return TypedResults.Ok(ToResponse(await generation.CollectAsync(ct))); }
            catch (GenerationException ex) { return Problem(ex, engine, http); }
        }

        var sse = new ServerSentEvents(http, json.Value.SerializerOptions);
        try
        {
            await sse.WriteJsonAsync(new GenerateStartEvent(run.Id, generation.Started.Step, generation.Started.PromptTokens[0]), ct, "start");
            var tokens = new List<TokenProduced>();
            string finish = "stop";
            int count = 0;
            await foreach (var e in generation.Events(ct))
            {
                switch (e)
                {
                    case TokenProduced t:
                        tokens.Add(t);
                        await sse.WriteJsonAsync(new GenerateTokenEvent(t.Text, t.Scores?.Chosen.Id ?? -1, t.Scores?.Chosen.LogProb ?? 0), ct, "token");
                        break;
                    case ChoiceFinished f:
                        (finish, count) = (f.FinishReason, f.CompletionTokens);
                        break;
                    case GenerationFinished done:
                        var result = new GenerationResult(generation.Started, [new ChoiceResult(0, string.Concat(tokens.Select(t => t.Text)), tokens, finish, count)], done.Timings);
                        await sse.WriteJsonAsync(ToResponse(result), ct, "done");
                        break;
                    case GenerationFailed failed:
                        await sse.WriteJsonAsync(new GenerateErrorEvent(failed.Error.Status, failed.Error.Code, failed.Error.Message), ct, "error");
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // The client went away: the generation was cancelled with the request and its slot is free again.
        }
        return Results.Empty;
    }

    private static IResult Problem(GenerationException ex, InferenceEngine engine, HttpContext http)
    {
        if (ex.WantsRetryAfter) http.Response.Headers.RetryAfter = engine.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (ex.Status == StatusCodes.Status400BadRequest && ex.Field is not null) return Problems.Validation(ex.Field, ex.Message);
        return Problems.Of(ex.Status, ex.Code, ex.Message);
    }

    private static GenerateResponse ToResponse(GenerationResult result)
    {
        var choice = result.Choices[0];
        var t = result.Timings;
        return new GenerateResponse(choice.Text, result.Started.PromptTokens[0], choice.CompletionTokens,
            t.TotalMs - t.QueueMs > 0 ? choice.CompletionTokens / ((t.TotalMs - t.QueueMs) / 1000) : 0,
            result.Started.Step, t.TimeToFirstTokenMs, t.TotalMs - t.QueueMs, choice.FinishReason) { Timings = t };
    }

    private static Dictionary<string, string[]> Validate(GenerateRequest r)
    {
        var errors = new Dictionary<string, string[]>();
        void Check(string field, string? problem)
        {
            if (problem is not null) errors[field] = [problem];
        }
        Check("prompt", SamplingRules.Prompt(r.Prompt, "the prompt"));
        Check("maxTokens", SamplingRules.MaxTokens(r.MaxTokens, "maxTokens"));
        Check("temperature", SamplingRules.Temperature(r.Temperature, 5, "temperature"));
        Check("topK", SamplingRules.TopK(r.TopK, "topK"));
        Check("topP", SamplingRules.TopP(r.TopP, "topP"));
        Check("stop", SamplingRules.Stop(r.Stop, MaxStopStrings, "stop"));
        Check("step", r.Step is long s && s < 1 ? $"step must be positive (got {s})" : null);
        return errors;
    }
}
