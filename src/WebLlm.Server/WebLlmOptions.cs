namespace WebLlm.Server;

/// <summary>The <c>WebLlm</c> section of configuration.</summary>
public sealed class WebLlmOptions
{
    public const string Section = "WebLlm";

    /// <summary>Database, datasets and checkpoints live here. Relative paths are relative to the working directory.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>Folder holding GPT-2's <c>encoder.json</c> and <c>vocab.bpe</c>; empty means the cache under the data directory.</summary>
    public string? Gpt2VocabDirectory { get; set; }
}

public static class WebLlmOptionsExtensions
{
    public static WebApplicationBuilder AddWebLlmOptions(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<WebLlmOptions>()
            .Bind(builder.Configuration.GetSection(WebLlmOptions.Section))
            .Validate(o => !string.IsNullOrWhiteSpace(o.DataDirectory), "WebLlm:DataDirectory must be set.")
            .ValidateOnStart();
        return builder;
    }
}
