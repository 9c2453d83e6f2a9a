using System.Text.Json;

namespace WebLlm.Server.Tests.Inference;

/// <summary>A parsed server-sent event.</summary>
public sealed record SseEvent(string? Event, string Data)
{
    public JsonElement Json => JsonDocument.Parse(Data).RootElement;
}

public static class Sse
{
    /// <summary>Reads events as they arrive until the stream ends.</summary>
    public static async IAsyncEnumerable<SseEvent> ReadAsync(HttpResponseMessage response, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
        string? name = null;
        var data = new List<string>();
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.Length == 0)
            {
                if (data.Count > 0) yield return new SseEvent(name, string.Join("\n", data));
                (name, data) = (null, []);
            }
            else if (line.StartsWith("event: ", StringComparison.Ordinal)) name = line[7..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal)) data.Add(line[6..]);
            else Assert.Fail($"Not an SSE line: '{line}'");
        }
        Assert.Empty(data); // every event ends with a blank line
    }

    public static async Task<List<SseEvent>> AllAsync(HttpResponseMessage response)
    {
        var list = new List<SseEvent>();
        await foreach (var e in ReadAsync(response)) list.Add(e);
        return list;
    }
}
