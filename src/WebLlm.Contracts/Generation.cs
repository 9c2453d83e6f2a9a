namespace WebLlm.Contracts;

/// <summary><c>POST /api/runs/{id}/generate</c>. Unset fields take the sampler's defaults.</summary>
public sealed record GenerateRequest
{
    public string Prompt { get; init; } = "";
    public int? MaxTokens { get; init; }
    public double? Temperature { get; init; }
    public int? TopK { get; init; }
    public double? TopP { get; init; }
    public ulong? Seed { get; init; }
    public IReadOnlyList<string>? Stop { get; init; }
    /// <summary>Checkpoint step to use; null means the newest complete one.</summary>
    public long? Step { get; init; }
}

public sealed record GenerateResponse(
    string Text, int PromptTokens, int CompletionTokens, double TokensPerSecond, long CheckpointStep,
    double TimeToFirstTokenMs, double TotalMs, string FinishReason);
