namespace WebLlm.Server;

public static class ApiNotFoundEndpoints
{
    /// <summary>
    /// Unknown <c>/api/*</c> routes answer with a ProblemDetails 404. Without this, the SPA fallback
    /// (<c>MapFallbackToFile("index.html")</c>) would answer them with the UI's HTML and a 200, which
    /// a script or the OpenAI client would misread. Map it before the SPA fallback; the literal
    /// <c>api</c> segment makes it win over the catch-all either way.
    /// </summary>
    public static IEndpointRouteBuilder MapApiNotFound(this IEndpointRouteBuilder app)
    {
        app.MapFallback("/api/{**path}", (HttpContext context) =>
            // An endpoint exists but takes JSON (or multipart): routing found no match for this body's content type.
            context.Request.ContentType is { Length: > 0 } type && (!type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)
                || context.Request.Path.Equals(WebLlm.Contracts.ApiRoutes.Datasets, StringComparison.OrdinalIgnoreCase))
                ? TypedResults.Problem(
                    statusCode: StatusCodes.Status415UnsupportedMediaType,
                    title: "Unsupported media type",
                    detail: $"No API endpoint at {context.Request.Method} {context.Request.Path} takes {type}; send application/json (uploads: multipart/form-data).",
                    extensions: new Dictionary<string, object?> { ["code"] = "unsupported_media_type" })
                : TypedResults.Problem(
                statusCode: StatusCodes.Status404NotFound,
                title: "Not found",
                detail: $"No API endpoint at {context.Request.Method} {context.Request.Path}.",
                extensions: new Dictionary<string, object?> { ["code"] = "not_found" }));
        return app;
    }
}
