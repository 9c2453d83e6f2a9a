using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;

namespace WebLlm.Server.Inference;

/// <summary>
/// Writes <c>text/event-stream</c> by hand, one flush per event, so each token reaches the client as it is made.
/// Writes fail with <see cref="OperationCanceledException"/> or <see cref="IOException"/> once the client is gone.
/// </summary>
public sealed class ServerSentEvents
{
    private readonly HttpResponse response;
    private readonly JsonSerializerOptions json;

    public ServerSentEvents(HttpContext http, JsonSerializerOptions json)
    {
        response = http.Response;
        this.json = json;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // nginx and friends: do not buffer the stream
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
    }

    /// <summary>Sends the headers at once, so a client sees the stream open before the first token.</summary>
    public Task StartAsync(CancellationToken ct) => response.Body.FlushAsync(ct);

    public Task WriteJsonAsync<T>(T data, CancellationToken ct, string? eventName = null) =>
        WriteAsync(JsonSerializer.Serialize(data, json), ct, eventName);

    /// <summary>One event: an optional <c>event:</c> line, one <c>data:</c> line (JSON has no raw newlines), a blank line.</summary>
    public async Task WriteAsync(string data, CancellationToken ct, string? eventName = null)
    {
        var text = new StringBuilder();
        if (eventName is not null) text.Append("event: ").Append(eventName).Append('\n');
        text.Append("data: ").Append(data).Append("\n\n");
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes(text.ToString()), ct);
        await response.Body.FlushAsync(ct);
    }
}
