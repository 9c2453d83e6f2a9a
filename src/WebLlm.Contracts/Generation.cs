using System.Text.Json.Serialization;

namespace WebLlm.Contracts;

/// <summary><c>POST /api/runs/{id}/generate</c>. Unset fields take the sampler's defaults.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
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
    /// <summary>True answers with server-sent events (<c>token</c> events, then <c>done</c> or <c>error</c>; see docs/API.md).</summary>
    public bool? Stream { get; init; }
}

public sealed record GenerateResponse(
    string Text, int PromptTokens, int CompletionTokens, double TokensPerSecond, long CheckpointStep,
    double TimeToFirstTokenMs, double TotalMs, string FinishReason)
{
    /// <summary>Per-request timings, like llama.cpp's <c>timings</c>.</summary>
    public GenerateTimings? Timings { get; init; }
}

/// <summary>
/// llama.cpp-style timings of one generation: the prompt pass (prompt tokens, time to first token) and the
/// decode (completion tokens per second after the first), plus the time spent waiting for a free slot.
/// </summary>
public sealed record GenerateTimings(
    int PromptTokens, double PromptMs, double PromptTokensPerSecond,
    int CompletionTokens, double CompletionMs, double CompletionTokensPerSecond,
    double TimeToFirstTokenMs, double QueueMs, double TotalMs);

/// <summary>The data of the <c>start</c> event on the native generate stream: the checkpoint answering and the prompt's size.</summary>
public sealed record GenerateStartEvent(int RunId, long CheckpointStep, int PromptTokens);

/// <summary>The data of a <c>token</c> event on the native generate stream: the text it adds (may be empty while a
/// UTF-8 character is split across tokens), the token id and its log-probability.</summary>
public sealed record GenerateTokenEvent(string Text, int TokenId, double LogProb);

/// <summary>The data of an <c>error</c> event on the native generate stream (a ProblemDetails-like shape).</summary>
public sealed record GenerateErrorEvent(int Status, string Code, string Detail);
