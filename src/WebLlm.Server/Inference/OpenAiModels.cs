using System.Text.Json;
using System.Text.Json.Serialization;

namespace WebLlm.Server.Inference;

// The wire shapes of the OpenAI-compatible API (snake_case through OpenAi.Json). Requests take the fields
// OpenAI's clients send; fields this server does not implement (presence_penalty, user, …) are ignored.

public sealed record StreamOptions
{
    public bool? IncludeUsage { get; init; }
}

/// <summary>The sampling fields completions and chat share.</summary>
public abstract record SamplingRequest
{
    public string? Model { get; init; }
    public int? MaxTokens { get; init; }
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    /// <summary>Extension (llama.cpp, vLLM): keep the k most likely tokens; 0 keeps all.</summary>
    public int? TopK { get; init; }
    /// <summary>A string or an array of strings.</summary>
    public JsonElement Stop { get; init; }
    public long? Seed { get; init; }
    public int? N { get; init; }
    public bool? Stream { get; init; }
    public StreamOptions? StreamOptions { get; init; }
}

public sealed record CompletionRequest : SamplingRequest
{
    /// <summary>A string or an array of strings.</summary>
    public JsonElement Prompt { get; init; }
    /// <summary>Alternatives per token to report (OpenAI's legacy logprobs), 0 to 20.</summary>
    public int? Logprobs { get; init; }
    public bool? Echo { get; init; }
}

public sealed record ChatMessage
{
    public string? Role { get; init; }
    /// <summary>A string or an array of content parts (only <c>text</c> parts are understood).</summary>
    public JsonElement Content { get; init; }
}

public sealed record ChatRequest : SamplingRequest
{
    public IReadOnlyList<ChatMessage>? Messages { get; init; }
    public int? MaxCompletionTokens { get; init; }
    public bool? Logprobs { get; init; }
    public int? TopLogprobs { get; init; }
}

public sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens);

/// <summary>Extension block on every answer: which checkpoint answered, and llama.cpp-style timings.</summary>
public sealed record WebLlmInfo(int RunId, long CheckpointStep, WebLlm.Contracts.GenerateTimings? Timings);

public sealed record LegacyLogProbs(
    IReadOnlyList<string> Tokens, IReadOnlyList<double?> TokenLogprobs, IReadOnlyList<Dictionary<string, double>?> TopLogprobs, IReadOnlyList<int> TextOffset);

public sealed record CompletionChoice(string Text, int Index, LegacyLogProbs? Logprobs, string? FinishReason);

public sealed record Completion(string Id, string Object, long Created, string Model, string SystemFingerprint,
    IReadOnlyList<CompletionChoice> Choices, Usage? Usage, WebLlmInfo? Webllm);

public sealed record AssistantMessage(string Role, string Content);

public sealed record ChatDelta(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Content);

public sealed record TopChatLogProb(string Token, double Logprob, IReadOnlyList<byte> Bytes);

public sealed record ChatLogProb(string Token, double Logprob, IReadOnlyList<byte> Bytes, IReadOnlyList<TopChatLogProb> TopLogprobs);

public sealed record ChatLogProbs(IReadOnlyList<ChatLogProb> Content);

public sealed record ChatChoice(int Index, AssistantMessage Message, ChatLogProbs? Logprobs, string FinishReason);

public sealed record ChatChunkChoice(int Index, ChatDelta Delta, ChatLogProbs? Logprobs, string? FinishReason);

public sealed record ChatCompletion(string Id, string Object, long Created, string Model, string SystemFingerprint,
    IReadOnlyList<ChatChoice> Choices, Usage Usage, WebLlmInfo Webllm);

public sealed record ChatCompletionChunk(string Id, string Object, long Created, string Model, string SystemFingerprint,
    IReadOnlyList<ChatChunkChoice> Choices, Usage? Usage);

/// <summary>A run with a complete checkpoint, as a model; the fields after <c>owned_by</c> are extensions.</summary>
public sealed record ModelEntry(string Id, string Object, long Created, string OwnedBy, string Name, int RunId, long NewestStep,
    IReadOnlyList<long> Steps, int ContextLength, string Status);

public sealed record ModelList(string Object, IReadOnlyList<ModelEntry> Data);

public sealed record OpenAiError(string Message, string Type, string? Param, string? Code);

public sealed record OpenAiErrorBody(OpenAiError Error);
