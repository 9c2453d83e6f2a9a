using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using WebLlm.Contracts;

namespace WebLlm.Server.Tests.Inference;

/// <summary>One slot and one queue place: overload, cancellation on disconnect.</summary>
public class LimitsTests(InferenceFixture fixture) : IClassFixture<InferenceFixture>
{
    private InferenceServer Server => fixture.Server;
    private string Model => fixture.Run.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Sixteen choices of 240 tokens: far longer than any test waits.</summary>
    private object Long(bool stream) => new { model = Model, prompt = "The ", max_tokens = 240, n = 16, stream };

    [Fact]
    public async Task Beyond_the_slots_and_the_queue_requests_get_429_with_retry_after_in_both_shapes()
    {
        using var cancel = new CancellationTokenSource();
        using var running = await Server.StartStreamAsync(ApiRoutes.OpenAiCompletions, Long(stream: true), cancel.Token);
        Assert.Equal(HttpStatusCode.OK, running.StatusCode);
        await Server.WaitUntilAsync(() => Server.Slots.Active == 1, "the first request holds the slot");
        var queued = Server.StartStreamAsync(ApiRoutes.OpenAiCompletions, Long(stream: false), cancel.Token);
        await Server.WaitUntilAsync(() => Server.Slots.Waiting == 1, "the second request waits in the queue");

        var v1 = await Server.PostJsonAsync(ApiRoutes.OpenAiCompletions, new { model = Model, prompt = "a", max_tokens = 1 });
        var error = await CompletionsTests.AssertOpenAiErrorAsync(v1, HttpStatusCode.TooManyRequests, "rate_limit_error");
        Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
        Assert.Equal(TimeSpan.FromSeconds(3), v1.Headers.RetryAfter?.Delta);
        var native = await Server.Http.PostAsJsonAsync(ApiRoutes.RunGenerate(fixture.Run.Id), new GenerateRequest { Prompt = "a", MaxTokens = 1 });
        await Api.AssertProblemAsync(native, HttpStatusCode.TooManyRequests, ErrorCodes.Overloaded);
        Assert.Equal(TimeSpan.FromSeconds(3), native.Headers.RetryAfter?.Delta);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued);
        await Server.WaitUntilAsync(() => Server.Slots is { Active: 0, Waiting: 0 }, "everything cancelled");
        var after = await Server.PostJsonAsync(ApiRoutes.OpenAiCompletions, new { model = Model, prompt = "a", max_tokens = 1 });
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task A_client_that_disconnects_mid_stream_stops_its_generation_and_frees_the_slot()
    {
        long cancelledBefore = Server.Slots.Cancelled;
        long tokensBefore = Server.Slots.TokensGenerated;
        var response = await Server.StartStreamAsync(ApiRoutes.OpenAiCompletions, Long(stream: true));
        await using (var events = Sse.ReadAsync(response).GetAsyncEnumerator())
        {
            Assert.True(await events.MoveNextAsync());
            Assert.True(await events.MoveNextAsync());
            Assert.Equal("text_completion", events.Current.Json.GetProperty("object").GetString());
        }
        response.Dispose(); // closes the connection: the server sees the request aborted
        await Server.WaitUntilAsync(() => Server.Slots.Active == 0, "the slot is freed");

        Assert.Equal(cancelledBefore + 1, Server.Slots.Cancelled);
        long decoded = Server.Slots.TokensGenerated - tokensBefore;
        Assert.True(decoded < 16 * 240, $"{decoded} tokens decoded: the generation ran to its end");
        await Task.Delay(300);
        Assert.Equal(tokensBefore + decoded, Server.Slots.TokensGenerated); // and nothing decodes any more

        // The next request gets the slot at once.
        var next = await Server.Http.PostAsJsonAsync(ApiRoutes.RunGenerate(fixture.Run.Id), new GenerateRequest { Prompt = "a", MaxTokens = 2 });
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        var answer = (await next.Content.ReadFromJsonAsync<GenerateResponse>())!;
        Assert.Equal(2, answer.CompletionTokens);
    }
}

/// <summary>A server whose time limit is one second.</summary>
public class TimeoutTests
{
    [Fact]
    public async Task The_time_limit_ends_streams_with_an_error_event_and_json_requests_with_504()
    {
        await using var server = await InferenceServer.StartAsync(timeoutSeconds: 1);
        var run = await server.TrainAsync();
        string model = run.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var longRequest = new { model, prompt = "The ", max_tokens = 240, n = 16, stream = true };

        using var response = await server.StartStreamAsync(ApiRoutes.OpenAiCompletions, longRequest);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = await Sse.AllAsync(response);
        Assert.True(events.Count >= 2, $"{events.Count} events");
        var last = events[^1].Json.GetProperty("error");
        Assert.Equal("generation_timeout", last.GetProperty("code").GetString());
        Assert.Equal("server_error", last.GetProperty("type").GetString());
        Assert.DoesNotContain(events, e => e.Data == "[DONE]");

        using var native = await server.StartStreamAsync(ApiRoutes.RunGenerate(run.Id), new GenerateRequest { Prompt = "The ", MaxTokens = 240, Stream = true });
        var nativeEvents = await Sse.AllAsync(native);
        // 240 tokens may fit in a second on a quiet machine; if not, the stream must end with the error event.
        Assert.Contains(nativeEvents[^1].Event, new[] { "done", "error" });
        if (nativeEvents[^1].Event == "error")
            Assert.Equal(ErrorCodes.GenerationTimeout, nativeEvents[^1].Json.Deserialize<GenerateErrorEvent>(new JsonSerializerOptions(JsonSerializerDefaults.Web))!.Code);

        var json = await server.PostJsonAsync(ApiRoutes.OpenAiCompletions, longRequest with { stream = false });
        var error = await CompletionsTests.AssertOpenAiErrorAsync(json, HttpStatusCode.GatewayTimeout, "server_error");
        Assert.Equal("generation_timeout", error.GetProperty("code").GetString());
        Assert.True(server.Slots.TimedOut >= 2);
        Assert.Equal(0, server.Slots.Active);
    }
}
