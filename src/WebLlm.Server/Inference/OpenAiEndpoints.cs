using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.EntityFrameworkCore;
using WebLlm.Contracts;
using WebLlm.Server.Persistence;
using WebLlm.Training.Checkpoints;

namespace WebLlm.Server.Inference;

/// <summary>
/// The OpenAI-compatible API: <c>GET /v1/models</c>, <c>POST /v1/completions</c>, <c>POST /v1/chat/completions</c>.
/// Bodies are read here (not by model binding) so that every error, invalid UTF-8 and malformed JSON included,
/// is OpenAI's error JSON with the matching status. Shapes and the chat template: docs/API.md.
/// </summary>
public static class OpenAiEndpoints
{
    public const int MaxStopStrings = 4;
    public const int MaxBodyBytes = 1024 * 1024;

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict,
    };

    public static IEndpointRouteBuilder MapOpenAi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").WithTags("OpenAI-compatible").AddEndpointFilter(async (context, next) =>
        {
            try { return await next(context); }
            catch (GenerationException ex) when (!context.HttpContext.Response.HasStarted) { return Error(context.HttpContext, ex); }
        });
        v1.MapGet("/models", ListModels);
        v1.MapGet("/models/{model}", GetModel);
        v1.MapPost("/completions", Completions);
        v1.MapPost("/chat/completions", ChatCompletions);
        app.MapFallback("/v1/{**path}", (HttpContext http) => Error(http,
            new GenerationException(StatusCodes.Status404NotFound, "unknown_url", $"Unknown request URL: {http.Request.Method} {http.Request.Path}.")));
        return app;
    }

    public static GenerationException Invalid(string message, string? param) =>
        new(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed, message, param);

    /// <summary>OpenAI's error JSON: <c>{"error": {"message", "type", "param", "code"}}</c>, with Retry-After where it helps.</summary>
    public static IResult Error(HttpContext http, GenerationException ex)
    {
        if (ex.WantsRetryAfter)
            http.Response.Headers.RetryAfter = http.RequestServices.GetRequiredService<InferenceEngine>().RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return Results.Json(new OpenAiErrorBody(ToOpenAi(ex)), Json, statusCode: ex.Status);
    }

    private static OpenAiError ToOpenAi(GenerationException ex) => new(ex.Message,
        ex.Status switch
        {
            StatusCodes.Status429TooManyRequests => "rate_limit_error",
            >= 500 => "server_error",
            _ => "invalid_request_error",
        },
        ex.Field,
        ex.Code switch
        {
            ErrorCodes.RunNotFound => "model_not_found",
            ErrorCodes.Overloaded => "rate_limit_exceeded",
            ErrorCodes.ValidationFailed => "invalid_value",
            var code => code,
        });

    // ---- models

    private static async Task<IResult> ListModels(WebLlmDb db, ModelResolver models, CancellationToken ct)
    {
        var runs = await db.Runs.AsNoTracking().OrderBy(r => r.Id).Select(r => new { r.Id, r.Name, r.CreatedUtc, r.Status }).ToListAsync(ct);
        var data = runs.Select(r => Entry(models, r.Id, r.Name, r.CreatedUtc, r.Status)).OfType<ModelEntry>().ToList();
        return Results.Json(new ModelList("list", data), Json);
    }

    private static async Task<IResult> GetModel(string model, WebLlmDb db, ModelResolver models, CancellationToken ct)
    {
        var resolved = await models.ResolveAsync(db, model, "model", ct);
        var run = await db.Runs.AsNoTracking().Where(r => r.Id == resolved.RunId).Select(r => new { r.Id, r.Name, r.CreatedUtc, r.Status }).FirstAsync(ct);
        return Results.Json(Entry(models, run.Id, run.Name, run.CreatedUtc, run.Status), Json);
    }

    private static ModelEntry? Entry(ModelResolver models, int id, string name, DateTime created, RunStatus status)
    {
        var checkpoints = Checkpoint.List(models.CheckpointsDirectory(id));
        if (checkpoints.Count == 0) return null;
        int context = Checkpoint.ReadManifest(checkpoints[^1].Directory).Model.BlockSize;
        return new ModelEntry(id.ToString(CultureInfo.InvariantCulture), "model", Unix(created), "webllm", name, id, checkpoints[^1].Step,
            checkpoints.Select(c => c.Step).ToList(), context, status.ToString());
    }

    // ---- completions

    private static async Task<IResult> Completions(HttpContext http, WebLlmDb db, ModelResolver models, InferenceEngine engine, CancellationToken ct)
    {
        var r = await ReadAsync<CompletionRequest>(http, ct);
        var prompts = Strings(r.Prompt, "prompt") ?? throw Invalid("prompt is required", "prompt");
        if (prompts.Count == 0) throw Invalid("prompt must not be empty", "prompt");
        for (int i = 0; i < prompts.Count; i++) Check(SamplingRules.Prompt(prompts[i], "prompt"), prompts.Count == 1 ? "prompt" : $"prompt[{i}]");
        var common = CheckCommon(r, r.MaxTokens, "max_tokens");
        Check(SamplingRules.TopLogProbs(r.Logprobs, "logprobs"), "logprobs");
        if (prompts.Count * common.N > SamplingRules.MaxN)
            throw Invalid($"{prompts.Count} prompts × n = {common.N} is {prompts.Count * common.N} completions; at most {SamplingRules.MaxN} per request", "n");
        var model = await models.ResolveAsync(db, r.Model, "model", ct);
        bool echo = r.Echo == true;
        var job = common.Job(model, prompts, r.MaxTokens, r.Seed, defaultMaxTokens: 16) with
        {
            WantLogProbs = r.Logprobs is not null,
            TopLogProbs = r.Logprobs ?? 0,
            ScorePrompt = echo && r.Logprobs is not null,
        };
        var generation = await engine.StartAsync(job, ct);
        var meta = new Meta(model);
        // The prompt a choice echoes: choices are numbered prompt × n + i.
        string PromptOf(int choice) => prompts[choice / job.N];
        IReadOnlyList<TokenScores>? PromptScoresOf(int choice) => generation.Started.PromptScores?[choice / job.N];

        if (r.Stream != true)
        {
            var result = await generation.CollectAsync(ct);
            var choices = result.Choices.Select(c => new CompletionChoice((echo ? PromptOf(c.Index) : "") + c.Text, c.Index,
                job.WantLogProbs ? Legacy(echo ? PromptScoresOf(c.Index) : null, echo ? PromptOf(c.Index) : "", c.Tokens, 0) : null, c.FinishReason)).ToList();
            return Results.Json(new Completion(meta.Id("cmpl-"), "text_completion", meta.Created, model.Name, meta.Fingerprint, choices,
                Usage(result), new WebLlmInfo(model.RunId, result.Started.Step, result.Timings)), Json);
        }

        var sse = new ServerSentEvents(http, Json);
        string id = meta.Id("cmpl-");
        Completion Chunk(CompletionChoice choice) => new(id, "text_completion", meta.Created, model.Name, meta.Fingerprint, [choice], null, null);
        var offsets = new Dictionary<int, int>(); // text written per choice, for text_offset
        await StreamAsync(generation, sse, r.StreamOptions, async e =>
        {
            int choice = e switch { TokenProduced t => t.Choice, ChoiceFinished f => f.Choice, _ => -1 };
            if (choice >= 0 && offsets.TryAdd(choice, 0) && echo)
            {
                string prompt = PromptOf(choice);
                await sse.WriteJsonAsync(Chunk(new CompletionChoice(prompt, choice, job.WantLogProbs ? Legacy(PromptScoresOf(choice), prompt, [], 0) : null, null)), ct);
                offsets[choice] = prompt.Length;
            }
            switch (e)
            {
                case TokenProduced t when t.Text.Length > 0 || (t.Scores is not null && job.WantLogProbs):
                    await sse.WriteJsonAsync(Chunk(new CompletionChoice(t.Text, t.Choice, job.WantLogProbs ? Legacy(null, "", [t], offsets[t.Choice]) : null, null)), ct);
                    offsets[t.Choice] += t.Text.Length;
                    break;
                case ChoiceFinished f:
                    await sse.WriteJsonAsync(Chunk(new CompletionChoice("", f.Choice, null, f.FinishReason)), ct);
                    break;
            }
        }, (done, usage) => new Completion(id, "text_completion", meta.Created, model.Name, meta.Fingerprint, [], usage,
            new WebLlmInfo(model.RunId, generation.Started.Step, done.Timings)), ct);
        return Results.Empty;
    }

    /// <summary>
    /// OpenAI's legacy logprobs for echoed prompt tokens then generated tokens: token strings, their log-probabilities
    /// (null for the first prompt token), the top alternatives as token → logprob, and each token's offset in the text.
    /// </summary>
    private static LegacyLogProbs Legacy(IReadOnlyList<TokenScores>? promptScores, string prompt, IReadOnlyList<TokenProduced> tokens, int offset)
    {
        var names = new List<string>();
        var logprobs = new List<double?>();
        var tops = new List<Dictionary<string, double>?>();
        var offsets = new List<int>();
        int promptOffset = 0;
        void Add(TokenScores s, int at)
        {
            names.Add(s.Chosen.Token);
            logprobs.Add(double.IsNaN(s.Chosen.LogProb) ? null : s.Chosen.LogProb);
            tops.Add(s.Top is null ? null : TopMap(s.Top));
            offsets.Add(at);
        }
        foreach (var s in promptScores ?? [])
        {
            Add(s, offset + Math.Min(promptOffset, prompt.Length));
            promptOffset += s.Chosen.Token.Length;
        }
        offset += prompt.Length;
        foreach (var t in tokens)
        {
            if (t.Scores is { } s) Add(s, offset);
            offset += t.Text.Length;
        }
        return new LegacyLogProbs(names, logprobs, tops, offsets);
    }

    private static Dictionary<string, double> TopMap(IReadOnlyList<TokenScore> top)
    {
        var map = new Dictionary<string, double>();
        foreach (var t in top) map.TryAdd(t.Token, t.LogProb); // two ids can print alike; the likelier one stays
        return map;
    }

    // ---- chat

    private static async Task<IResult> ChatCompletions(HttpContext http, WebLlmDb db, ModelResolver models, InferenceEngine engine, CancellationToken ct)
    {
        var r = await ReadAsync<ChatRequest>(http, ct);
        string prompt = ChatTemplate.Render(r.Messages);
        string maxField = r.MaxCompletionTokens is not null ? "max_completion_tokens" : "max_tokens";
        int? maxTokens = r.MaxCompletionTokens ?? r.MaxTokens;
        var common = CheckCommon(r, maxTokens, maxField);
        Check(SamplingRules.TopLogProbs(r.TopLogprobs, "top_logprobs"), "top_logprobs");
        if (r.TopLogprobs is > 0 && r.Logprobs != true) throw Invalid("top_logprobs needs logprobs: true", "top_logprobs");
        var model = await models.ResolveAsync(db, r.Model, "model", ct);
        var job = common.Job(model, [prompt], maxTokens, r.Seed, defaultMaxTokens: int.MaxValue) with
        {
            Stop = [.. ChatTemplate.Stops, .. common.Stop],
            WantLogProbs = r.Logprobs == true,
            TopLogProbs = r.Logprobs == true ? r.TopLogprobs ?? 0 : 0,
            PromptField = "messages",
            MaxTokensField = maxField,
        };
        var generation = await engine.StartAsync(job, ct);
        var meta = new Meta(model);

        if (r.Stream != true)
        {
            var result = await generation.CollectAsync(ct);
            var choices = result.Choices.Select(c => new ChatChoice(c.Index, new AssistantMessage("assistant", ChatTemplate.TrimAnswerStart(c.Text)),
                job.WantLogProbs ? ChatScores(c.Tokens) : null, c.FinishReason)).ToList();
            return Results.Json(new ChatCompletion(meta.Id("chatcmpl-"), "chat.completion", meta.Created, model.Name, meta.Fingerprint, choices,
                Usage(result), new WebLlmInfo(model.RunId, result.Started.Step, result.Timings)), Json);
        }

        var sse = new ServerSentEvents(http, Json);
        string id = meta.Id("chatcmpl-");
        ChatCompletionChunk Chunk(ChatChunkChoice choice) => new(id, "chat.completion.chunk", meta.Created, model.Name, meta.Fingerprint, [choice], null);
        var started = new HashSet<int>(); // choices whose role chunk went out
        var answering = new HashSet<int>(); // choices whose answer text has begun (its leading space is dropped)
        await StreamAsync(generation, sse, r.StreamOptions, async e =>
        {
            int choice = e switch { TokenProduced t => t.Choice, ChoiceFinished f => f.Choice, _ => -1 };
            if (choice >= 0 && started.Add(choice))
                await sse.WriteJsonAsync(Chunk(new ChatChunkChoice(choice, new ChatDelta("assistant", ""), null, null)), ct);
            switch (e)
            {
                case TokenProduced t:
                    string text = t.Text.Length > 0 && answering.Add(t.Choice) ? ChatTemplate.TrimAnswerStart(t.Text) : t.Text;
                    if (text.Length > 0 || (job.WantLogProbs && t.Scores is not null))
                        await sse.WriteJsonAsync(Chunk(new ChatChunkChoice(t.Choice, new ChatDelta(null, text), job.WantLogProbs ? ChatScores([t]) : null, null)), ct);
                    break;
                case ChoiceFinished f:
                    await sse.WriteJsonAsync(Chunk(new ChatChunkChoice(f.Choice, new ChatDelta(null, null), null, f.FinishReason)), ct);
                    break;
            }
        }, (done, usage) => new ChatCompletionChunk(id, "chat.completion.chunk", meta.Created, model.Name, meta.Fingerprint, [], usage), ct);
        return Results.Empty;
    }

    private static ChatLogProbs ChatScores(IEnumerable<TokenProduced> tokens) => new(tokens.Where(t => t.Scores is not null).Select(t =>
        new ChatLogProb(t.Scores!.Chosen.Token, t.Scores.Chosen.LogProb, Encoding.UTF8.GetBytes(t.Scores.Chosen.Token),
            (t.Scores.Top ?? []).Select(a => new TopChatLogProb(a.Token, a.LogProb, Encoding.UTF8.GetBytes(a.Token))).ToList())).ToList());

    // ---- shared

    /// <summary>Checked sampling fields both endpoints take, and the job they make.</summary>
    private sealed record Common(double? Temperature, double? TopP, int? TopK, IReadOnlyList<string> Stop, int N)
    {
        public GenerationJob Job(ResolvedModel model, IReadOnlyList<string> prompts, int? maxTokens, long? seed, int defaultMaxTokens) => new()
        {
            Model = model,
            Prompts = prompts,
            MaxTokens = maxTokens,
            DefaultMaxTokens = defaultMaxTokens,
            Temperature = Temperature ?? 1.0,
            TopP = TopP ?? 1.0,
            TopK = TopK ?? 0,
            Stop = Stop,
            N = N,
            // No seed: a fresh one, as OpenAI answers differ call to call; with a seed, the same text every time.
            Seed = unchecked((ulong)(seed ?? Random.Shared.NextInt64())),
        };
    }

    private static Common CheckCommon(SamplingRequest r, int? maxTokens, string maxField)
    {
        Check(SamplingRules.MaxTokens(maxTokens, maxField), maxField);
        Check(SamplingRules.Temperature(r.Temperature, 2, "temperature"), "temperature");
        Check(SamplingRules.TopP(r.TopP, "top_p"), "top_p");
        Check(SamplingRules.TopK(r.TopK, "top_k"), "top_k");
        var stop = Strings(r.Stop, "stop") ?? [];
        Check(SamplingRules.Stop(stop, MaxStopStrings, "stop"), "stop");
        Check(SamplingRules.N(r.N, "n"), "n");
        return new Common(r.Temperature, r.TopP, r.TopK, stop, r.N ?? 1);
    }

    private static void Check(string? problem, string param)
    {
        if (problem is not null) throw Invalid(problem, param);
    }

    /// <summary>A string or an array of strings (null when absent).</summary>
    private static List<string>? Strings(JsonElement value, string field) => value.ValueKind switch
    {
        JsonValueKind.Undefined or JsonValueKind.Null => null,
        JsonValueKind.String => [value.GetString()!],
        JsonValueKind.Array when value.EnumerateArray().All(v => v.ValueKind == JsonValueKind.String) => value.EnumerateArray().Select(v => v.GetString()!).ToList(),
        _ => throw Invalid($"{field} must be a string or an array of strings (token id arrays are not supported)", field),
    };

    private sealed class Meta(ResolvedModel model)
    {
        public long Created { get; } = Unix(DateTime.UtcNow);
        public string Fingerprint { get; } = "webllm-" + model.Name;
        public string Id(string prefix) => prefix + Guid.NewGuid().ToString("N");
    }

    private static long Unix(DateTime utc) => new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)).ToUnixTimeSeconds();

    private static Usage Usage(GenerationResult result) => Usage(result.Started, result.CompletionTokens);

    private static Usage Usage(GenerationStarted started, int completionTokens)
    {
        int prompt = started.PromptTokens.Sum();
        return new Usage(prompt, completionTokens, prompt + completionTokens);
    }

    /// <summary>
    /// The stream loop both endpoints share: each event goes to <paramref name="write"/>; at the end the usage chunk
    /// (when stream_options.include_usage) and <c>data: [DONE]</c>; a late failure (the time limit) is a final
    /// <c>data: {"error": …}</c> event instead. A client that goes away ends it quietly (its generation is cancelled).
    /// </summary>
    private static async Task StreamAsync<TChunk>(Generation generation, ServerSentEvents sse, StreamOptions? options,
        Func<GenerationEvent, Task> write, Func<GenerationFinished, Usage, TChunk> usageChunk, CancellationToken ct)
    {
        try
        {
            await sse.StartAsync(ct);
            int completionTokens = 0;
            await foreach (var e in generation.Events(ct))
            {
                if (e is ChoiceFinished f) completionTokens += f.CompletionTokens;
                if (e is GenerationFailed failed)
                {
                    await sse.WriteJsonAsync(new OpenAiErrorBody(ToOpenAi(failed.Error)), ct);
                    return;
                }
                await write(e);
                if (e is GenerationFinished done)
                {
                    if (options?.IncludeUsage == true) await sse.WriteJsonAsync(usageChunk(done, Usage(generation.Started, completionTokens)), ct);
                    await sse.WriteAsync("[DONE]", ct);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // The client went away: the generation was cancelled with the request and its slot is free again.
        }
    }

    /// <summary>The body as JSON, after checking it is UTF-8 and not too large; every failure is a 400 in OpenAI's shape.</summary>
    private static async Task<T> ReadAsync<T>(HttpContext http, CancellationToken ct) where T : class
    {
        var buffer = new ArrayBufferWriter<byte>();
        while (true)
        {
            int n = await http.Request.Body.ReadAsync(buffer.GetMemory(16 * 1024), ct);
            if (n == 0) break;
            buffer.Advance(n);
            if (buffer.WrittenCount > MaxBodyBytes)
                throw new GenerationException(StatusCodes.Status413PayloadTooLarge, ErrorCodes.PayloadTooLarge, $"The request body is over {MaxBodyBytes} bytes.");
        }
        var bytes = buffer.WrittenSpan;
        var chars = new char[bytes.Length];
        if (Utf8.ToUtf16(bytes, chars, out int read, out _, replaceInvalidSequences: false) != OperationStatus.Done)
            throw new GenerationException(StatusCodes.Status400BadRequest, ErrorCodes.InvalidText, $"The request body is not valid UTF-8 (invalid byte sequence at offset {read}).");
        try
        {
            return JsonSerializer.Deserialize<T>(bytes, Json) ?? throw Invalid("The request body must be a JSON object.", null);
        }
        catch (JsonException ex)
        {
            string? param = ex.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : null;
            throw Invalid($"The request body is not valid JSON for this endpoint: {ex.Message}", param);
        }
    }
}
