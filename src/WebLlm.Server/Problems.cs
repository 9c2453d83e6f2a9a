using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using WebLlm.Contracts;

namespace WebLlm.Server;

/// <summary>ProblemDetails with the stable <c>code</c> extension every API error carries.</summary>
public static class Problems
{
    public const string CodeKey = "code";

    public static ProblemHttpResult Of(int status, string code, string detail, string? title = null) =>
        TypedResults.Problem(statusCode: status, title: title, detail: detail,
            extensions: new Dictionary<string, object?> { [CodeKey] = code });

    public static ProblemHttpResult NotFound(string code, string detail) => Of(StatusCodes.Status404NotFound, code, detail);

    public static ProblemHttpResult Conflict(string code, string detail) => Of(StatusCodes.Status409Conflict, code, detail);

    /// <summary>Seconds a client waits before retrying after a full disk (the metric writer retries every 2 s).</summary>
    private const string DiskFullRetryAfter = "5";

    /// <summary>503 disk_full (with Retry-After, added where every ProblemDetails is customised).</summary>
    public static ProblemHttpResult DiskFull(string detail) => Of(StatusCodes.Status503ServiceUnavailable, ErrorCodes.DiskFull, detail, "Disk full");

    public static ValidationProblem Validation(IDictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, extensions: new Dictionary<string, object?> { [CodeKey] = ErrorCodes.ValidationFailed });

    public static ValidationProblem Validation(string field, string message) => Validation(new Dictionary<string, string[]> { [field] = [message] });

    /// <summary>The code for an error response that did not set one (status code pages, the exception handler).</summary>
    public static string DefaultCode(int? status) => status switch
    {
        400 => ErrorCodes.BadRequest,
        401 => ErrorCodes.Unauthorized,
        404 => ErrorCodes.NotFound,
        415 => ErrorCodes.UnsupportedMediaType,
        429 => ErrorCodes.RateLimited,
        409 => ErrorCodes.InvalidTransition,
        413 => ErrorCodes.PayloadTooLarge,
        >= 500 => ErrorCodes.InternalError,
        _ => "http_" + status,
    };

    /// <summary>ProblemDetails for every error, each with a code; 500s get internal_error.</summary>
    public static WebApplicationBuilder AddProblems(this WebApplicationBuilder builder)
    {
        // Unreadable bodies throw in every environment (not only Development), so the answer can say what was wrong.
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
        {
            // A request the server could not read (malformed JSON, an unknown field, a body too large) says what was
            // wrong with it; for JSON, where: System.Text.Json's message names the property path, line and position.
            if (ctx.Exception is BadHttpRequestException bad)
                ctx.ProblemDetails.Detail = bad.InnerException is JsonException json ? $"{bad.Message} {json.Message}" : bad.Message;
            if (ctx.Exception is { } ex && WebLlm.Server.DiskFull.Is(ex))
            {
                // Not an internal error: the client can retry once space is freed. The server's paths stay out of it.
                ctx.ProblemDetails.Title = "Disk full";
                ctx.ProblemDetails.Detail = "The server's disk is full; the request could not be stored. Retry once space is freed.";
                ctx.ProblemDetails.Extensions[CodeKey] = ErrorCodes.DiskFull;
            }
            if (ctx.ProblemDetails.Extensions.TryGetValue(CodeKey, out var code) && code as string == ErrorCodes.DiskFull && !ctx.HttpContext.Response.HasStarted)
                ctx.HttpContext.Response.Headers.RetryAfter = DiskFullRetryAfter;
            ctx.ProblemDetails.Extensions.TryAdd(CodeKey, DefaultCode(ctx.ProblemDetails.Status ?? ctx.HttpContext.Response.StatusCode));
        });
        return builder;
    }

    /// <summary>
    /// Exceptions become ProblemDetails: BadHttpRequestException (thrown for unreadable bodies)
    /// keeps its 4xx status; a full disk (ENOSPC, SQLITE_FULL) is 503 disk_full; anything else is a 500. Empty error responses get a ProblemDetails body too.
    /// </summary>
    public static WebApplication UseProblems(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            StatusCodeSelector = ex => ex is BadHttpRequestException bad ? bad.StatusCode
                : WebLlm.Server.DiskFull.Is(ex) ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status500InternalServerError,
            // A client's bad request is not the server's error: no error log, no exception diagnostics for it.
            SuppressDiagnosticsCallback = c => c.Exception is BadHttpRequestException,
        });

        app.UseStatusCodePages();
        return app;
    }
}
