namespace WebLlm.Training.Sampling;

/// <summary>How to pick each next token. Temperature 0 is greedy decoding (the most likely token).</summary>
public sealed record SamplingOptions
{
    public int MaxNewTokens { get; init; } = 200;
    public double Temperature { get; init; } = 0.8;
    /// <summary>Keep only the k most likely tokens; 0 keeps all.</summary>
    public int TopK { get; init; } = 200;
    /// <summary>Keep the smallest set of tokens whose probabilities sum to at least p; 1 keeps all.</summary>
    public double TopP { get; init; } = 1.0;
    public ulong Seed { get; init; } = 1337;
    public IReadOnlyList<string> Stop { get; init; } = [];
    /// <summary>Also report this many most likely alternatives per token (OpenAI's logprobs); 0 for none.</summary>
    public int TopLogProbs { get; init; }
    /// <summary>False recomputes the whole context for every token (nanoGPT's generate): only for comparisons.</summary>
    public bool UseKvCache { get; init; } = true;

    public void Validate()
    {
        var errors = new List<string>();
        if (MaxNewTokens < 1) errors.Add($"max tokens must be at least 1 (got {MaxNewTokens})");
        if (double.IsNaN(Temperature) || Temperature < 0 || Temperature > 100) errors.Add($"temperature must be in [0, 100] (got {Temperature})");
        if (TopK < 0) errors.Add($"top-k must be 0 (off) or positive (got {TopK})");
        if (double.IsNaN(TopP) || TopP <= 0 || TopP > 1) errors.Add($"top-p must be in (0, 1] (got {TopP})");
        if (Stop.Any(string.IsNullOrEmpty)) errors.Add("stop strings must not be empty");
        if (TopLogProbs is < 0 or > 20) errors.Add($"top logprobs must be between 0 and 20 (got {TopLogProbs})");
        if (errors.Count > 0) throw new ArgumentException("Invalid sampling options: " + string.Join("; ", errors) + ".");
    }
}

/// <summary>One generated token: its id, the text it completes (may be empty while a UTF-8 character is split
/// across tokens), and its log-probability under the model (before temperature, top-k and top-p).</summary>
public sealed record GeneratedToken(int Id, string Text, double LogProb)
{
    /// <summary>The most likely tokens at this position with their log-probabilities, when asked for.</summary>
    public IReadOnlyList<TokenLogProb>? Top { get; init; }
}

public readonly record struct TokenLogProb(int Id, double LogProb);
