using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using WebLlm.Client.Pages;
using WebLlm.Client.Services;
using WebLlm.Contracts;

namespace WebLlm.Client.Tests;

public sealed class PlaygroundStreamTests : ClientTestContext
{
    private const string Stream = """
        event: start
        data: {"runId":1,"checkpointStep":20,"promptTokens":4}

        event: token
        data: {"text":"He","tokenId":7,"logProb":-0.1}

        event: token
        data: {"text":"","tokenId":8,"logProb":-2.5}

        event: token
        data: {"text":"llo","tokenId":9,"logProb":-4.0}

        event: done
        data: {"text":"Hello","promptTokens":4,"completionTokens":3,"tokensPerSecond":50,"checkpointStep":20,"timeToFirstTokenMs":12,"totalMs":60,"finishReason":"length"}

        """;

    [Fact]
    public async Task Streamed_tokens_arrive_one_by_one_with_their_probabilities()
    {
        var handler = UseServer(_ => new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StringContent(Stream, Encoding.UTF8, "text/event-stream"),
        });
        var api = Services.GetRequiredService<WebLlmApi>();
        var tokens = new List<GenerateTokenEvent>();
        var result = await api.GenerateAsync(1, new GenerateRequest { Prompt = "The " }, tokens.Add);
        Assert.Equal(["He", "", "llo"], tokens.Select(t => t.Text));
        Assert.Equal([-0.1, -2.5, -4.0], tokens.Select(t => t.LogProb));
        Assert.Equal(("Hello", 20L, 3), (result.Text, result.CheckpointStep, result.CompletionTokens));
        Assert.Contains("\"stream\":true", handler.Requests.Single().Body);
    }

    [Fact]
    public async Task An_error_event_after_the_stream_started_is_an_api_problem()
    {
        UseServer(_ => new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StringContent("event: token\ndata: {\"text\":\"a\",\"tokenId\":1,\"logProb\":-1}\n\nevent: error\ndata: {\"status\":504,\"code\":\"generation_timeout\",\"detail\":\"too long\"}\n\n",
                Encoding.UTF8, "text/event-stream"),
        });
        var api = Services.GetRequiredService<WebLlmApi>();
        var problem = await Assert.ThrowsAsync<ApiProblem>(() => api.GenerateAsync(1, new GenerateRequest { Prompt = "x" }));
        Assert.Equal("generation_timeout", problem.Code);
    }

    [Theory]
    [InlineData(0.0, "hsla(120,")]
    [InlineData(-0.693147, "hsla(60,")]
    [InlineData(-20.0, "hsla(0,")]
    public void Likely_tokens_are_green_and_unlikely_ones_red(double logProb, string expected) =>
        Assert.StartsWith("background-color: " + expected, Playground.TokenStyle(logProb));

    [Fact]
    public void Tokens_without_a_probability_are_not_coloured() => Assert.Equal("", Playground.TokenStyle(double.NaN));
}
