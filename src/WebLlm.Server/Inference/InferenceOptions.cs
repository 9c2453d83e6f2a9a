namespace WebLlm.Server.Inference;

/// <summary>The <c>WebLlm:Inference</c> section: how much inference the server takes on at once.</summary>
public sealed class InferenceOptions
{
    public const string Section = "WebLlm:Inference";

    /// <summary>Generations that run at the same time (each on its own thread). 1 suits a 2-core machine that also trains.</summary>
    public int Slots { get; set; } = 1;

    /// <summary>Requests that may wait for a slot; one more is answered 429 with Retry-After.</summary>
    public int QueueLength { get; set; } = 8;

    /// <summary>Longest a generation may run once it has a slot (queueing not included); then it is cancelled.</summary>
    public double TimeoutSeconds { get; set; } = 120;

    /// <summary>Memory budget of the model cache (weights of loaded checkpoints); least recently used models are evicted beyond it.</summary>
    public long CacheBytes { get; set; } = 2L * 1024 * 1024 * 1024;

    /// <summary>The Retry-After of 429 (overloaded) and 503 (no checkpoint yet) answers.</summary>
    public int RetryAfterSeconds { get; set; } = 2;
}

public static class InferenceExtensions
{
    /// <summary>Inference: options, slots and queue, the model cache (registered by AddTraining), the generation engine.</summary>
    public static WebApplicationBuilder AddInference(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<InferenceOptions>()
            .Bind(builder.Configuration.GetSection(InferenceOptions.Section))
            .Validate(o => o.Slots >= 1, "WebLlm:Inference:Slots must be at least 1.")
            .Validate(o => o.QueueLength >= 0, "WebLlm:Inference:QueueLength must not be negative.")
            .Validate(o => o.TimeoutSeconds > 0, "WebLlm:Inference:TimeoutSeconds must be positive.")
            .Validate(o => o.CacheBytes > 0, "WebLlm:Inference:CacheBytes must be positive.")
            .Validate(o => o.RetryAfterSeconds >= 1, "WebLlm:Inference:RetryAfterSeconds must be at least 1.")
            .ValidateOnStart();
        builder.Services.AddSingleton<InferenceSlots>();
        builder.Services.AddSingleton<InferenceCache>();
        builder.Services.AddSingleton<InferenceEngine>();
        builder.Services.AddSingleton<ModelResolver>();
        return builder;
    }

    /// <summary>The native generate endpoint and the OpenAI-compatible /v1 API.</summary>
    public static IEndpointRouteBuilder MapInference(this IEndpointRouteBuilder app)
    {
        app.MapGenerate();
        app.MapOpenAi();
        return app;
    }
}
