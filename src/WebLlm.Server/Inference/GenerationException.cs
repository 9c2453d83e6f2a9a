namespace WebLlm.Server.Inference;

/// <summary>
/// Why a generation cannot run or did not finish; the native endpoint maps it to a ProblemDetails, /v1 to
/// OpenAI's error JSON. <see cref="Field"/> names the request field at fault (in the caller's spelling).
/// </summary>
public sealed class GenerationException(int status, string code, string message, string? field = null) : Exception(message)
{
    public int Status { get; } = status;
    public string Code { get; } = code;
    public string? Field { get; } = field;

    /// <summary>429 and 503 tell the client when to come back.</summary>
    public bool WantsRetryAfter => Status is StatusCodes.Status429TooManyRequests or StatusCodes.Status503ServiceUnavailable;
}
