using WebLlm.Contracts;

namespace WebLlm.Server;

/// <summary>The <c>WebLlm</c> section of configuration.</summary>
public sealed class WebLlmOptions
{
    public const string Section = "WebLlm";

    /// <summary>Database, datasets and checkpoints live here. Relative paths are relative to the working directory.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>Folder holding GPT-2's <c>encoder.json</c> and <c>vocab.bpe</c>; empty means the cache under the data directory.</summary>
    public string? Gpt2VocabDirectory { get; set; }

    /// <summary>Largest accepted dataset upload (all files of one request together).</summary>
    public long MaxUploadBytes { get; set; } = 100L * 1024 * 1024;

    /// <summary>libtorch intra-op threads; 0 means one per core.</summary>
    public int Threads { get; set; }

    /// <summary>auto (CUDA when available), cpu or cuda. Recorded with each run.</summary>
    public string Device { get; set; } = "auto";

    /// <summary>Seconds between system metric samples while a run trains.</summary>
    public double SystemSampleSeconds { get; set; } = 2;

    /// <summary>
    /// Caps the built-in corpus at this many documents (null: all of it, about 11 MB). Tests set it low so a
    /// fresh data directory is ready in a fraction of a second.
    /// </summary>
    public int? BuiltinMaxDocuments { get; set; }

    /// <summary>Peak FLOP/s for MFU; 0 measures a large matrix product once per process (half a second).</summary>
    public double PeakFlops { get; set; }

    public RunLimits Limits { get; set; } = new();

    /// <summary>Newest checkpoints kept per run (at least 2); older ones are deleted once a newer one is complete.</summary>
    public int KeepCheckpoints { get; set; } = 3;

    /// <summary>Consecutive steps with a non-finite loss or gradient norm after which a run fails as diverged.</summary>
    public int MaxBadSteps { get; set; } = 10;

    /// <summary>
    /// How long SIGTERM / Ctrl-C waits for the running step to finish and its checkpoint to be written
    /// (HostOptions.ShutdownTimeout).
    /// </summary>
    public double ShutdownTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// When set, every API and hub request needs <c>Authorization: Bearer &lt;key&gt;</c> (the hub's WebSocket may pass
    /// <c>access_token</c> instead). Required when listening on a non-loopback address.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>Largest request body outside dataset uploads (JSON commands and prompts).</summary>
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    public RateLimitOptions RateLimit { get; set; } = new();

    /// <summary>Fault injection for reliability tests. Every field defaults to off; never set it in production.</summary>
    public TestingOptions Testing { get; set; } = new();

    public string DataPath(params string[] parts) => Path.Combine([Path.GetFullPath(DataDirectory), .. parts]);
}

/// <summary>
/// Per-client (remote address) token buckets for mutating requests (POST, PUT, PATCH, DELETE) and for API reads (GET,
/// HEAD under /api and /v1), plus one concurrency gate for all API reads; 429 with Retry-After.
/// </summary>
public sealed class RateLimitOptions
{
    /// <summary>Mutating requests a client may burst.</summary>
    public int Burst { get; set; } = 60;
    /// <summary>Mutating requests per second refilled.</summary>
    public double PerSecond { get; set; } = 20;
    /// <summary>API reads a client may burst (the run page loads about ten at once).</summary>
    public int ReadBurst { get; set; } = 120;
    /// <summary>API reads per second refilled per client.</summary>
    public double ReadPerSecond { get; set; } = 60;
    /// <summary>API reads served at once, all clients together: the rest of the cores stay with training.</summary>
    public int MaxConcurrentReads { get; set; } = 2;
    /// <summary>API reads waiting for the gate; beyond this they get 429.</summary>
    public int ReadQueue { get; set; } = 100;
}

/// <summary>Test-only fault injection (<c>WebLlm:Testing</c>). All off by default.</summary>
public sealed class TestingOptions
{
    /// <summary>Poison the loss with NaN from this 1-based step on (0: off)...</summary>
    public long PoisonLossFromStep { get; set; }
    /// <summary>...for this many consecutive steps.</summary>
    public int PoisonLossSteps { get; set; }
    /// <summary>Sleep after each checkpoint file is written, widening the window for kill tests.</summary>
    public int CheckpointFileDelayMs { get; set; }
    /// <summary>Checkpoint writes of steps at or after this one fail with ENOSPC ("No space left on device") (0: off).</summary>
    public long CheckpointDiskFullFromStep { get; set; }
    /// <summary>Hold every API read this long after it passed the rate limits (0: off).</summary>
    public int ReadDelayMs { get; set; }

    public bool Any => PoisonLossFromStep > 0 || CheckpointFileDelayMs > 0 || CheckpointDiskFullFromStep > 0;
}

public static class WebLlmOptionsExtensions
{
    public static WebApplicationBuilder AddWebLlmOptions(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<WebLlmOptions>()
            .Bind(builder.Configuration.GetSection(WebLlmOptions.Section))
            .Validate(o => !string.IsNullOrWhiteSpace(o.DataDirectory), "WebLlm:DataDirectory must be set.")
            .Validate(o => o.MaxUploadBytes > 0, "WebLlm:MaxUploadBytes must be positive.")
            .Validate(o => o.Device is "auto" or "cpu" or "cuda", "WebLlm:Device must be auto, cpu or cuda.")
            .Validate(o => o.KeepCheckpoints >= 2, "WebLlm:KeepCheckpoints must be at least 2.")
            .Validate(o => o.MaxBadSteps >= 1, "WebLlm:MaxBadSteps must be at least 1.")
            .Validate(o => o.ShutdownTimeoutSeconds > 0, "WebLlm:ShutdownTimeoutSeconds must be positive.")
            .Validate(o => o.MaxRequestBodyBytes > 0, "WebLlm:MaxRequestBodyBytes must be positive.")
            .Validate(o => o.RateLimit.Burst >= 1 && o.RateLimit.PerSecond > 0, "WebLlm:RateLimit needs Burst >= 1 and PerSecond > 0.")
            .Validate(o => o.RateLimit.ReadBurst >= 1 && o.RateLimit.ReadPerSecond > 0 && o.RateLimit.MaxConcurrentReads >= 1 && o.RateLimit.ReadQueue >= 0,
                "WebLlm:RateLimit needs ReadBurst >= 1, ReadPerSecond > 0, MaxConcurrentReads >= 1 and ReadQueue >= 0.")
            .ValidateOnStart();
        double shutdown = builder.Configuration.GetValue($"{WebLlmOptions.Section}:{nameof(WebLlmOptions.ShutdownTimeoutSeconds)}", 30.0);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(shutdown));
        return builder;
    }
}
