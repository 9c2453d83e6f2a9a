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

    public string DataPath(params string[] parts) => Path.Combine([Path.GetFullPath(DataDirectory), .. parts]);
}

/// <summary>What a single run may ask for (<c>WebLlm:Limits</c>). Checked before anything is allocated.</summary>
public sealed class RunLimits
{
    public int MaxLayers { get; set; } = 48;
    public int MaxEmbd { get; set; } = 1600;
    public int MaxBlockSize { get; set; } = 1024;
    public int MaxBatchSize { get; set; } = 512;
    public int MaxGradAccum { get; set; } = 1024;
    public int MaxSteps { get; set; } = 1_000_000;
    public long MaxParameters { get; set; } = 2_000_000_000;
    /// <summary>Estimated training memory (weights, gradients, AdamW moments, activations) a run may need.</summary>
    public long MemoryBudgetBytes { get; set; } = 16L * 1024 * 1024 * 1024;
    public int MaxSamplePrompts { get; set; } = 8;
    public int MaxSampleTokens { get; set; } = 2000;
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
            .ValidateOnStart();
        return builder;
    }
}
