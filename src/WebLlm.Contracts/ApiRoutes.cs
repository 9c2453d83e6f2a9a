namespace WebLlm.Contracts;

/// <summary>Every route the Client and tests call, in one place.</summary>
public static class ApiRoutes
{
    public const string Info = "/api/info";
    public const string Health = "/health";
    public const string ApiHealth = "/api/health";
    public const string Presets = "/api/presets";
    public const string Runs = "/api/runs";
    public const string ExternalRuns = "/api/runs/external";
    public const string Datasets = "/api/datasets";
    public const string Imports = "/api/imports";
    public const string Tokenize = "/api/tokenize";
    public const string TrainingHub = "/hubs/training";

    public static string Run(int id) => $"{Runs}/{id}";
    public static string RunAction(int id, string action) => $"{Runs}/{id}/{action}"; // pause | resume | stop | sample | checkpoint
    public static string RunMetrics(int id, long? fromStep = null, long? toStep = null, int? maxPoints = null) =>
        WithStepRange($"{Runs}/{id}/metrics", fromStep, toStep, maxPoints);
    /// <summary>The same steps as <see cref="RunMetrics"/>, as <see cref="StepColumns"/>.</summary>
    public static string RunMetricColumns(int id, long? fromStep = null, long? toStep = null, int? maxPoints = null) =>
        WithStepRange($"{Runs}/{id}/metrics/columns", fromStep, toStep, maxPoints);
    private static string WithStepRange(string path, long? fromStep, long? toStep, int? maxPoints)
    {
        var query = new List<string>();
        if (fromStep is not null) query.Add($"fromStep={fromStep}");
        if (toStep is not null) query.Add($"toStep={toStep}");
        if (maxPoints is not null) query.Add($"maxPoints={maxPoints}");
        return path + (query.Count > 0 ? "?" + string.Join("&", query) : "");
    }
    public static string RunEvals(int id) => $"{Runs}/{id}/evals";
    public static string RunSamples(int id) => $"{Runs}/{id}/samples";
    public static string RunCheckpoints(int id) => $"{Runs}/{id}/checkpoints";
    public static string RunSystem(int id) => $"{Runs}/{id}/system";
    public static string RunGenerate(int id) => $"{Runs}/{id}/generate";
    public static string Dataset(int id) => $"{Datasets}/{id}";
    public static string DatasetPreview(int id) => $"{Datasets}/{id}/preview";
    public static string RunTransitions(int id) => $"{Runs}/{id}/transitions";
    public const string OpenAiModels = "/v1/models";
    public const string OpenAiCompletions = "/v1/completions";
    public const string OpenAiChatCompletions = "/v1/chat/completions";
    public const string OpenApiDocument = "/openapi/v1.json";
    public const string ApiReference = "/scalar";
}

/// <summary>The stable <c>code</c> extension of every ProblemDetails the API returns.</summary>
public static class ErrorCodes
{
    public const string ValidationFailed = "validation_failed";
    public const string NotFound = "not_found";
    public const string RunNotFound = "run_not_found";
    public const string DatasetNotFound = "dataset_not_found";
    public const string InvalidTransition = "invalid_transition";
    public const string RunActive = "run_active";
    public const string DatasetInUse = "dataset_in_use";
    public const string DatasetNotReady = "dataset_not_ready";
    public const string NoCheckpoint = "no_checkpoint";
    public const string CheckpointNotFound = "checkpoint_not_found";
    /// <summary>Prompt tokens plus max tokens are over the model's context (OpenAI's code for it).</summary>
    public const string ContextLengthExceeded = "context_length_exceeded";
    /// <summary>Every inference slot and queue place is taken (429 with Retry-After).</summary>
    public const string Overloaded = "overloaded";
    /// <summary>A generation ran past the server's time limit.</summary>
    public const string GenerationTimeout = "generation_timeout";
    public const string PayloadTooLarge = "payload_too_large";
    public const string InvalidText = "invalid_text";
    public const string TokenizerUnavailable = "tokenizer_unavailable";
    public const string InternalError = "internal_error";
    public const string ApiKeyRequired = "api_key_required";
    public const string NotExternal = "not_external";
    public const string CheckpointCorrupt = "checkpoint_corrupt";
    /// <summary>A request the server could not read at all, e.g. a malformed JSON body.</summary>
    public const string BadRequest = "bad_request";
    /// <summary>API key mode: no or a wrong <c>Authorization: Bearer</c> key (401).</summary>
    public const string Unauthorized = "unauthorized";
    /// <summary>Too many requests; the response carries Retry-After (429).</summary>
    public const string RateLimited = "rate_limited";
    /// <summary>A body with a content type the endpoint does not take (415).</summary>
    public const string UnsupportedMediaType = "unsupported_media_type";
    /// <summary>A form, multipart or text/plain POST/PUT/PATCH/DELETE without the <c>X-WebLlm-Request</c> header or an API key (403): a cross-site form cannot set it.</summary>
    public const string CrossSiteRequest = "cross_site_request";
    /// <summary>The host name is not in AllowedHosts (400; DNS rebinding protection).</summary>
    public const string InvalidHost = "invalid_host";
    /// <summary>The server's disk is full: the database or a file could not be written (503 with Retry-After).</summary>
    public const string DiskFull = "disk_full";
}
