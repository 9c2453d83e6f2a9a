using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using WebLlm.Contracts;

namespace WebLlm.Server.Tests.Inference;

/// <summary>/v1/completions and the native generate endpoint over raw HTTP: shapes, streams, seeds, validation.</summary>
public class CompletionsTests(InferenceFixture fixture) : IClassFixture<InferenceFixture>
{
    private InferenceServer Server => fixture.Server;
    private string Model => fixture.Run.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private async Task<JsonElement> CompleteAsync(object body)
    {
        var response = await Server.PostJsonAsync(ApiRoutes.OpenAiCompletions, body);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement;
    }

    [Fact]
    public async Task Completion_has_openai_shape_usage_and_n_choices_with_consecutive_seeds()
    {
        var answer = await CompleteAsync(new { model = Model, prompt = "The ", max_tokens = 6, seed = 7, n = 2, temperature = 1.0 });
        Assert.Equal("text_completion", answer.GetProperty("object").GetString());
        Assert.StartsWith("cmpl-", answer.GetProperty("id").GetString());
        Assert.Equal($"{Model}@{fixture.Run.LatestCheckpointStep}", answer.GetProperty("model").GetString());
        var choices = answer.GetProperty("choices");
        Assert.Equal(2, choices.GetArrayLength());
        Assert.Equal([0, 1], choices.EnumerateArray().Select(c => c.GetProperty("index").GetInt32()));
        Assert.All(choices.EnumerateArray(), c => Assert.Equal("length", c.GetProperty("finish_reason").GetString()));
        var usage = answer.GetProperty("usage");
        Assert.Equal(4, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(12, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(16, usage.GetProperty("total_tokens").GetInt32());

        // Choice i of n uses seed + i: the second choice is what seed 8 gives alone.
        var alone = await CompleteAsync(new { model = Model, prompt = "The ", max_tokens = 6, seed = 8, temperature = 1.0 });
        Assert.Equal(alone.GetProperty("choices")[0].GetProperty("text").GetString(), choices[1].GetProperty("text").GetString());
        var same = await CompleteAsync(new { model = fixture.Run.Name, prompt = "The ", max_tokens = 6, seed = 7, temperature = 1.0 });
        Assert.Equal(choices[0].GetProperty("text").GetString(), same.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task Logprobs_with_echo_use_the_legacy_shape_for_prompt_and_completion_tokens()
    {
        var answer = await CompleteAsync(new { model = Model, prompt = "The ", max_tokens = 5, seed = 3, logprobs = 2, echo = true });
        var choice = answer.GetProperty("choices")[0];
        string text = choice.GetProperty("text").GetString()!;
        Assert.StartsWith("The ", text);
        Assert.Equal(9, text.Length); // one character a token
        var logprobs = choice.GetProperty("logprobs");
        var tokens = logprobs.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!).ToList();
        Assert.Equal(text, string.Concat(tokens));
        var values = logprobs.GetProperty("token_logprobs").EnumerateArray().ToList();
        Assert.Equal(9, values.Count);
        Assert.Equal(JsonValueKind.Null, values[0].ValueKind);
        Assert.All(values.Skip(1), v => Assert.True(v.GetDouble() <= 0));
        var tops = logprobs.GetProperty("top_logprobs").EnumerateArray().ToList();
        Assert.All(tops.Skip(1), t => Assert.InRange(t.EnumerateObject().Count(), 1, 2));
        Assert.Equal(Enumerable.Range(0, 9), logprobs.GetProperty("text_offset").EnumerateArray().Select(o => o.GetInt32()));

        var plain = await CompleteAsync(new { model = Model, prompt = "The ", max_tokens = 5, seed = 3 });
        Assert.Equal(JsonValueKind.Null, plain.GetProperty("choices")[0].GetProperty("logprobs").ValueKind);
        Assert.Equal(text[4..], plain.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task Streaming_completion_sends_chunks_then_usage_then_done_with_the_same_text()
    {
        var whole = await CompleteAsync(new { model = Model, prompt = "A ", max_tokens = 10, seed = 11 });
        using var response = await Server.StartStreamAsync(ApiRoutes.OpenAiCompletions,
            new { model = Model, prompt = "A ", max_tokens = 10, seed = 11, stream = true, stream_options = new { include_usage = true } });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = await Sse.AllAsync(response);

        Assert.Equal("[DONE]", events[^1].Data);
        var chunks = events[..^1].Select(e => e.Json).ToList();
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        var usage = chunks[^1];
        Assert.Equal(0, usage.GetProperty("choices").GetArrayLength());
        Assert.Equal(10, usage.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(2, usage.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        var choices = chunks[..^1].Select(c => c.GetProperty("choices")[0]).ToList();
        Assert.True(choices.Count >= 3, $"{choices.Count} chunks");
        Assert.Equal("length", choices[^1].GetProperty("finish_reason").GetString());
        Assert.All(choices[..^1], c => Assert.Equal(JsonValueKind.Null, c.GetProperty("finish_reason").ValueKind));
        Assert.Equal(whole.GetProperty("choices")[0].GetProperty("text").GetString(), string.Concat(choices.Select(c => c.GetProperty("text").GetString())));

        // Without include_usage there is no usage chunk, and the stream still ends with [DONE].
        using var plain = await Server.StartStreamAsync(ApiRoutes.OpenAiCompletions, new { model = Model, prompt = "A ", max_tokens = 3, stream = true });
        var plainEvents = await Sse.AllAsync(plain);
        Assert.Equal("[DONE]", plainEvents[^1].Data);
        Assert.All(plainEvents[..^1], e => Assert.Equal(1, e.Json.GetProperty("choices").GetArrayLength()));
    }

    [Fact]
    public async Task Native_generate_streams_start_tokens_and_done_with_timings_matching_the_json_answer()
    {
        var request = new GenerateRequest { Prompt = "The ", MaxTokens = 8, Seed = 5 };
        var json = await Server.Http.PostAsJsonAsync(ApiRoutes.RunGenerate(fixture.Run.Id), request);
        Assert.Equal(HttpStatusCode.OK, json.StatusCode);
        var answer = (await json.Content.ReadFromJsonAsync<GenerateResponse>())!;
        Assert.NotNull(answer.Timings);
        Assert.Equal(4, answer.Timings.PromptTokens);
        Assert.Equal(8, answer.Timings.CompletionTokens);
        Assert.True(answer.Timings.TimeToFirstTokenMs > 0 && answer.Timings.CompletionTokensPerSecond > 0 && answer.Timings.PromptMs > 0);
        Assert.True(answer.Timings.TotalMs >= answer.Timings.TimeToFirstTokenMs);

        using var response = await Server.StartStreamAsync(ApiRoutes.RunGenerate(fixture.Run.Id), request with { Stream = true });
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = await Sse.AllAsync(response);
        var web = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        Assert.Equal("start", events[0].Event);
        var start = events[0].Json.Deserialize<GenerateStartEvent>(web)!;
        Assert.Equal((fixture.Run.Id, answer.CheckpointStep, 4), (start.RunId, start.CheckpointStep, start.PromptTokens));
        var tokens = events.Where(e => e.Event == "token").Select(e => e.Json.Deserialize<GenerateTokenEvent>(web)!).ToList();
        Assert.Equal(8, tokens.Count);
        Assert.All(tokens, t => Assert.True(t.TokenId >= 0 && t.LogProb <= 0));
        Assert.Equal("done", events[^1].Event);
        var done = events[^1].Json.Deserialize<GenerateResponse>(web)!;
        Assert.Equal(answer.Text, done.Text);
        Assert.Equal(answer.Text, string.Concat(tokens.Select(t => t.Text)));
        Assert.Equal("length", done.FinishReason);
        Assert.NotNull(done.Timings);
    }

    public static TheoryData<string, string, string> InvalidCompletions => new()
    {
        { """{"model":"M","prompt":""}""", "prompt", "must not be empty" },
        { """{"model":"M"}""", "prompt", "required" },
        { """{"model":"M","prompt":"a","max_tokens":0}""", "max_tokens", "between 1 and 4096" },
        { """{"model":"M","prompt":"a","max_tokens":5000}""", "max_tokens", "got 5000" },
        { """{"model":"M","prompt":"a","temperature":2.5}""", "temperature", "between 0 and 2" },
        { """{"model":"M","prompt":"a","temperature":-1}""", "temperature", "between 0 and 2" },
        { """{"model":"M","prompt":"a","top_p":0}""", "top_p", "(0, 1]" },
        { """{"model":"M","prompt":"a","top_p":1.5}""", "top_p", "(0, 1]" },
        { """{"model":"M","prompt":"a","top_k":-1}""", "top_k", "got -1" },
        { """{"model":"M","prompt":"a","n":0}""", "n", "between 1 and 16" },
        { """{"model":"M","prompt":"a","n":17}""", "n", "between 1 and 16" },
        { """{"model":"M","prompt":"a","logprobs":21}""", "logprobs", "between 0 and 20" },
        { """{"model":"M","prompt":"a","stop":["1","2","3","4","5"]}""", "stop", "at most 4" },
        { """{"model":"M","prompt":"a","stop":[""]}""", "stop", "must not be empty" },
        { """{"model":"M","prompt":[1,2,3]}""", "prompt", "token id arrays" },
        { """{"model":"M","prompt":"a","max_tokens":"ten"}""", "max_tokens", "not valid JSON" },
        { """{"prompt":"a"}""", "model", "model is required" },
        { """{"model":"M@x","prompt":"a"}""", "model", "checkpoint step" },
    };

    [Theory]
    [MemberData(nameof(InvalidCompletions))]
    public async Task Each_invalid_completion_field_is_a_400_in_openai_error_shape_naming_it(string body, string param, string message)
    {
        var response = await Server.Http.PostAsync(ApiRoutes.OpenAiCompletions, new StringContent(body.Replace("\"M", "\"" + Model, StringComparison.Ordinal), Encoding.UTF8, "application/json"));
        var error = await AssertOpenAiErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_error");
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Contains(message, error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chat_validation_covers_messages_roles_tokens_and_logprobs()
    {
        async Task Expect(object body, string param, string message)
        {
            var error = await AssertOpenAiErrorAsync(await Server.PostJsonAsync(ApiRoutes.OpenAiChatCompletions, body), HttpStatusCode.BadRequest, "invalid_request_error");
            Assert.Equal(param, error.GetProperty("param").GetString());
            Assert.Contains(message, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        await Expect(new { model = Model, messages = Array.Empty<object>() }, "messages", "at least one");
        await Expect(new { model = Model, messages = new[] { new { role = "tool", content = "x" } } }, "messages[0].role", "got 'tool'");
        await Expect(new { model = Model, messages = new[] { new { role = "user", content = "x" } }, max_completion_tokens = 0 }, "max_completion_tokens", "between 1");
        await Expect(new { model = Model, messages = new[] { new { role = "user", content = "x" } }, top_logprobs = 3 }, "top_logprobs", "needs logprobs");
        await Expect(new { model = Model, messages = new[] { new { role = "user", content = new string('x', 300) } } }, "messages", "context");
    }

    [Fact]
    public async Task Prompt_plus_max_tokens_over_the_context_is_a_400_naming_both_numbers()
    {
        var v1 = await Server.PostJsonAsync(ApiRoutes.OpenAiCompletions, new { model = Model, prompt = new string('a', 200), max_tokens = 100 });
        var error = await AssertOpenAiErrorAsync(v1, HttpStatusCode.BadRequest, "invalid_request_error");
        Assert.Equal("context_length_exceeded", error.GetProperty("code").GetString());
        string message = error.GetProperty("message").GetString()!;
        Assert.Contains("200 tokens", message, StringComparison.Ordinal);
        Assert.Contains("max_tokens is 100", message, StringComparison.Ordinal);
        Assert.Contains($"context of {InferenceServer.Context}", message, StringComparison.Ordinal);

        var native = await Server.Http.PostAsJsonAsync(ApiRoutes.RunGenerate(fixture.Run.Id), new GenerateRequest { Prompt = new string('a', 200), MaxTokens = 100 });
        var problem = await Api.AssertProblemAsync(native, HttpStatusCode.BadRequest, ErrorCodes.ValidationFailed);
        string detail = problem.GetProperty("errors").GetProperty("maxTokens")[0].GetString()!;
        Assert.Contains("200 tokens", detail, StringComparison.Ordinal);
        Assert.Contains("maxTokens is 100", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_models_and_checkpoints_are_404_and_a_run_without_checkpoint_is_503_with_retry_after()
    {
        var unknown = await AssertOpenAiErrorAsync(await Server.PostJsonAsync(ApiRoutes.OpenAiCompletions, new { model = "nope", prompt = "a" }), HttpStatusCode.NotFound, "invalid_request_error");
        Assert.Equal("model_not_found", unknown.GetProperty("code").GetString());
        var step = await AssertOpenAiErrorAsync(await Server.PostJsonAsync(ApiRoutes.OpenAiCompletions, new { model = Model + "@99999", prompt = "a" }), HttpStatusCode.NotFound, "invalid_request_error");
        Assert.Equal("checkpoint_not_found", step.GetProperty("code").GetString());
        await Api.AssertProblemAsync(await Server.Http.PostAsJsonAsync(ApiRoutes.RunGenerate(fixture.Run.Id), new GenerateRequest { Prompt = "a", Step = 99999 }),
            HttpStatusCode.NotFound, ErrorCodes.CheckpointNotFound);
        await AssertOpenAiErrorAsync(await Server.Http.GetAsync("/v1/nothing-here"), HttpStatusCode.NotFound, "invalid_request_error");

        // A run that has not written a checkpoint yet (its first is at step 100000).
        var fresh = await Server.Api.LaunchAsync(InferenceServer.Run(maxSteps: 100_000, checkpointEvery: 100_000));
        try
        {
            var response = await Server.PostJsonAsync(ApiRoutes.OpenAiCompletions, new { model = fresh.Name, prompt = "a" });
            var error = await AssertOpenAiErrorAsync(response, HttpStatusCode.ServiceUnavailable, "server_error");
            Assert.Equal("no_checkpoint", error.GetProperty("code").GetString());
            Assert.Equal(TimeSpan.FromSeconds(3), response.Headers.RetryAfter?.Delta);
            var models = JsonDocument.Parse(await Server.Http.GetStringAsync(ApiRoutes.OpenAiModels)).RootElement.GetProperty("data");
            Assert.DoesNotContain(models.EnumerateArray(), m => m.GetProperty("run_id").GetInt32() == fresh.Id);
            var listed = Assert.Single(models.EnumerateArray(), m => m.GetProperty("run_id").GetInt32() == fixture.Run.Id);
            Assert.Equal(fixture.Run.LatestCheckpointStep, listed.GetProperty("newest_step").GetInt64());
            Assert.Equal(InferenceServer.Context, listed.GetProperty("context_length").GetInt32());
        }
        finally
        {
            await Server.Api.CommandAsync(fresh.Id, "stop");
            await Server.Api.WaitForAsync(fresh.Id, r => r.Status is RunStatus.Stopped, "stopped");
        }
    }

    [Fact]
    public async Task Invalid_utf8_and_malformed_json_are_400_on_both_apis()
    {
        byte[] body = [.. """{"model":"1","prompt":"a"""u8, 0xC3, 0x28, .. "\"}"u8];
        var v1 = await Server.Http.PostAsync(ApiRoutes.OpenAiCompletions, new ByteArrayContent(body) { Headers = { ContentType = new("application/json") } });
        var error = await AssertOpenAiErrorAsync(v1, HttpStatusCode.BadRequest, "invalid_request_error");
        Assert.Equal("invalid_text", error.GetProperty("code").GetString());
        Assert.Contains($"offset {Array.IndexOf(body, (byte)0xC3)}", error.GetProperty("message").GetString(), StringComparison.Ordinal);

        byte[] nativeBody = [.. """{"prompt":"a"""u8, 0xFF, .. "\"}"u8];
        var native = await Server.Http.PostAsync(ApiRoutes.RunGenerate(fixture.Run.Id), new ByteArrayContent(nativeBody) { Headers = { ContentType = new("application/json") } });
        await Api.AssertProblemAsync(native, HttpStatusCode.BadRequest, ErrorCodes.BadRequest);

        var malformed = await Server.Http.PostAsync(ApiRoutes.OpenAiChatCompletions, new StringContent("{\"model\":", Encoding.UTF8, "application/json"));
        await AssertOpenAiErrorAsync(malformed, HttpStatusCode.BadRequest, "invalid_request_error");
    }

    public static async Task<JsonElement> AssertOpenAiErrorAsync(HttpResponseMessage response, HttpStatusCode status, string type)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {status}, got {response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var root = JsonDocument.Parse(body).RootElement;
        Assert.Single(root.EnumerateObject());
        var error = root.GetProperty("error");
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.True(error.TryGetProperty("param", out _) && error.TryGetProperty("code", out _));
        return error;
    }
}
