using System.Text;
using System.Text.Json;

namespace WebLlm.Server.Inference;

/// <summary>
/// Turns chat messages into one plain-text prompt for these base models (documented in docs/API.md):
/// each message on its own line as <c>System: …</c>, <c>User: …</c> or <c>Assistant: …</c> (developer counts as
/// system), then <c>Assistant:</c> for the model to continue. Generation stops where the model starts the
/// next turn (<see cref="Stops"/>), and one leading space of the answer is dropped.
/// </summary>
public static class ChatTemplate
{
    public static readonly IReadOnlyList<string> Stops = ["\nUser:", "\nSystem:"];

    public static string Render(IReadOnlyList<ChatMessage>? messages)
    {
        if (messages is null || messages.Count == 0)
            throw OpenAiEndpoints.Invalid("messages must hold at least one message", "messages");
        var prompt = new StringBuilder();
        for (int i = 0; i < messages.Count; i++)
        {
            string field = $"messages[{i}]";
            string speaker = messages[i].Role switch
            {
                "system" or "developer" => "System",
                "user" => "User",
                "assistant" => "Assistant",
                var other => throw OpenAiEndpoints.Invalid($"{field}.role must be system, developer, user or assistant (got '{other}')", field + ".role"),
            };
            prompt.Append(speaker).Append(": ").Append(Text(messages[i].Content, field + ".content")).Append('\n');
        }
        return prompt.Append("Assistant:").ToString();
    }

    private static string Text(JsonElement content, string field) => content.ValueKind switch
    {
        JsonValueKind.String => content.GetString()!,
        JsonValueKind.Null or JsonValueKind.Undefined => "",
        JsonValueKind.Array => string.Concat(content.EnumerateArray().Select((part, k) =>
            part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var type) && type.ValueEquals("text")
                && part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String
                ? text.GetString()
                : throw OpenAiEndpoints.Invalid($"{field}[{k}] must be a text part ({{\"type\": \"text\", \"text\": …}}); these models read text only", $"{field}[{k}]"))),
        _ => throw OpenAiEndpoints.Invalid($"{field} must be a string or an array of text parts", field),
    };

    /// <summary>Drops the one space the model writes after <c>Assistant:</c>, from the first text of an answer.</summary>
    public static string TrimAnswerStart(string text) => text.StartsWith(' ') ? text[1..] : text;
}
