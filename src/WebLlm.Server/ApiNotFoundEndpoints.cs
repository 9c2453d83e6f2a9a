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
            TypedResults.Problem(
                statusCode: StatusCodes.Status404NotFound,
                title: "Not found",
                detail: $"No API endpoint at {context.Request.Method} {context.Request.Path}.",
                extensions: new Dictionary<string, object?> { ["code"] = "not_found" }));
        return app;
    }
}
