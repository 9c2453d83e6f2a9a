using Microsoft.AspNetCore.Http.HttpResults;
using WebLlm.Contracts;
using WebLlm.Server.Persistence;
using WebLlm.Training.Model;

namespace WebLlm.Server;

public static class PresetEndpoints
{
    /// <summary>Presets with their parameter count at GPT-2's vocabulary (a char dataset makes them smaller).</summary>
    public static IEndpointRouteBuilder MapPresets(this IEndpointRouteBuilder app)
    {
        app.MapGet(ApiRoutes.Presets, () => TypedResults.Ok(GptConfig.Presets
            .Select(p => new PresetDto(p.Key, p.Value.NLayer, p.Value.NHead, p.Value.NEmbd, p.Value.BlockSize, (p.Value with { VocabSize = 50257 }).ParameterCount))
            .ToList())).WithTags("Presets");
        app.MapGet(ApiRoutes.ApiHealth, async Task<Results<Ok<HealthDto>, ProblemHttpResult>> (WebLlmDb db, CancellationToken ct) =>
            await db.Database.CanConnectAsync(ct)
                ? TypedResults.Ok(new HealthDto("ok", true))
                : Problems.Of(StatusCodes.Status503ServiceUnavailable, ErrorCodes.InternalError, "The database cannot be reached.")).WithTags("Info");
        return app;
    }
}
