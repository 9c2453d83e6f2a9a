using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using TorchSharp;
using WebLlm.Contracts;
using WebLlm.Training.Model;
using WebLlm.Training.Sampling;
using WebLlm.Training.Tokenization;

namespace WebLlm.Server.Inference;

/// <summary>What to generate: one or more prompts, each answered <see cref="N"/> times (seeds Seed, Seed+1, …).</summary>
public sealed record GenerationJob
{
    public required ResolvedModel Model { get; init; }
    public required IReadOnlyList<string> Prompts { get; init; }
    /// <summary>As asked; null means <see cref="DefaultMaxTokens"/>, capped at what the context leaves.</summary>
    public int? MaxTokens { get; init; }
    public int DefaultMaxTokens { get; init; } = 16;
    public double Temperature { get; init; } = 1.0;
    public int TopK { get; init; }
    public double TopP { get; init; } = 1.0;
    public ulong Seed { get; init; }
    public IReadOnlyList<string> Stop { get; init; } = [];
    public int N { get; init; } = 1;
    /// <summary>Alternatives per token to report (0: none); <see cref="WantLogProbs"/> reports the chosen token's only.</summary>
    public int TopLogProbs { get; init; }
    public bool WantLogProbs { get; init; }
    /// <summary>Score the prompt tokens too (OpenAI's echo with logprobs).</summary>
    public bool ScorePrompt { get; init; }
    /// <summary>How the caller spells the fields named in errors.</summary>
    public string PromptField { get; init; } = "prompt";
    public string MaxTokensField { get; init; } = "max_tokens";
}

/// <summary>A token's text as the tokenizer writes it alone, with its log-probability.</summary>
public readonly record struct TokenScore(string Token, int Id, double LogProb);

/// <summary>One position's scores: the chosen token and, when asked, the most likely alternatives.</summary>
public sealed record TokenScores(TokenScore Chosen, IReadOnlyList<TokenScore>? Top);

public abstract record GenerationEvent;

/// <summary>The model is loaded and every prompt fits: from here on the answer is a success (or a late error on streams).</summary>
public sealed record GenerationStarted(long Step, int Context, IReadOnlyList<int> PromptTokens, IReadOnlyList<IReadOnlyList<TokenScores>>? PromptScores, double QueueMs) : GenerationEvent;

/// <summary>Text for choice <paramref name="Choice"/>; <paramref name="Scores"/> is null for text that is not a new token (a held-back tail).</summary>
public sealed record TokenProduced(int Choice, string Text, TokenScores? Scores) : GenerationEvent;

public sealed record ChoiceFinished(int Choice, string FinishReason, int CompletionTokens) : GenerationEvent;

public sealed record GenerationFinished(GenerateTimings Timings) : GenerationEvent;

public sealed record GenerationFailed(GenerationException Error) : GenerationEvent;

/// <summary>A whole generation, collected (the non-streaming answers).</summary>
public sealed record GenerationResult(GenerationStarted Started, IReadOnlyList<ChoiceResult> Choices, GenerateTimings Timings)
{
    public int CompletionTokens => Choices.Sum(c => c.CompletionTokens);
}

public sealed record ChoiceResult(int Index, string Text, IReadOnlyList<TokenProduced> Tokens, string FinishReason, int CompletionTokens);

/// <summary>A generation under way: <see cref="Started"/> has arrived; <see cref="Events"/> yields the rest.</summary>
public sealed class Generation(GenerationStarted started, ChannelReader<GenerationEvent> reader)
{
    public GenerationStarted Started { get; } = started;

    /// <summary>Tokens, choice ends, then <see cref="GenerationFinished"/> or <see cref="GenerationFailed"/>.</summary>
    public IAsyncEnumerable<GenerationEvent> Events(CancellationToken ct) => reader.ReadAllAsync(ct);

    /// <summary>Everything, for a non-streaming answer; a late failure (the time limit) is thrown.</summary>
    public async Task<GenerationResult> CollectAsync(CancellationToken ct)
    {
        var tokens = new SortedDictionary<int, List<TokenProduced>>();
        var ends = new Dictionary<int, ChoiceFinished>();
        await foreach (var e in Events(ct))
        {
            switch (e)
            {
                case TokenProduced t:
                    if (!tokens.TryGetValue(t.Choice, out var list)) tokens[t.Choice] = list = [];
                    list.Add(t);
                    break;
                case ChoiceFinished f:
                    ends[f.Choice] = f;
                    tokens.TryAdd(f.Choice, []);
                    break;
                case GenerationFailed failed:
                    throw failed.Error;
                case GenerationFinished done:
                    var choices = tokens.Select(kv => new ChoiceResult(kv.Key, string.Concat(kv.Value.Select(t => t.Text)), kv.Value,
                        ends[kv.Key].FinishReason, ends[kv.Key].CompletionTokens)).ToList();
                    return new GenerationResult(Started, choices, done.Timings);
            }
        }
        throw new OperationCanceledException(ct);
    }
}

/// <summary>
/// Runs generations: takes a slot (or refuses with 429), then generates on a thread of its own, synchronously
/// from the model lease to the last token (TorchSharp's dispose scopes are per thread), writing events to a
/// channel the request handler streams out. The request's abort token and the server's time limit cancel it
/// within one decode step; the slot is freed when the thread ends.
/// </summary>
public sealed class InferenceEngine(InferenceCache cache, InferenceSlots slots, IOptions<InferenceOptions> options, ILogger<InferenceEngine> log)
{
    private readonly InferenceOptions settings = options.Value;

    public int RetryAfterSeconds => settings.RetryAfterSeconds;

    /// <summary>Waits for a slot, loads the model and checks the prompts; throws <see cref="GenerationException"/> for any of it.</summary>
    public async Task<Generation> StartAsync(GenerationJob job, CancellationToken requestAborted)
    {
        var queued = Stopwatch.StartNew();
        var slot = await slots.TryAcquireAsync(requestAborted)
            ?? throw new GenerationException(StatusCodes.Status429TooManyRequests, ErrorCodes.Overloaded,
                $"The server is busy: all {slots.Capacity} inference slot(s) and {settings.QueueLength} queue place(s) are taken. Retry after {settings.RetryAfterSeconds} s.");
        double queueMs = queued.Elapsed.TotalMilliseconds;
        var channel = Channel.CreateUnbounded<GenerationEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        _ = Task.Factory.StartNew(() => Run(job, slot, queueMs, channel.Writer, requestAborted), CancellationToken.None,
            TaskCreationOptions.LongRunning | TaskCreationOptions.DenyChildAttach, TaskScheduler.Default);
        GenerationEvent first;
        try { first = await channel.Reader.ReadAsync(requestAborted); }
        catch (ChannelClosedException) { throw new OperationCanceledException(requestAborted); }
        return first switch
        {
            GenerationStarted started => new Generation(started, channel.Reader),
            GenerationFailed failed => throw failed.Error,
            _ => throw new InvalidOperationException("A generation must start with GenerationStarted or GenerationFailed."),
        };
    }

    private void Run(GenerationJob job, InferenceSlots.Slot slot, double queueMs, ChannelWriter<GenerationEvent> writer, CancellationToken requestAborted)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(settings.TimeoutSeconds));
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, timeout.Token);
        var ct = linked.Token;
        var total = Stopwatch.StartNew();
        try
        {
            using var lease = cache.Acquire(job.Model.RunId, job.Model.Checkpoint, ct);
            var prompts = job.Prompts.Select(p => Encode(lease.Tokenizer, p, job.PromptField)).ToList();
            int context = lease.Model.Config.BlockSize;
            var maxTokens = prompts.Select(ids => MaxTokensFor(job, ids.Length, context)).ToList();
            var scores = job.ScorePrompt ? prompts.Select(ids => ScorePrompt(lease.Model, lease.Tokenizer, ids, job.TopLogProbs)).ToList() : null;
            writer.TryWrite(new GenerationStarted(lease.Step, context, prompts.Select(p => p.Length).ToList(), scores, queueMs));

            var timing = new TimingSums();
            for (int p = 0; p < prompts.Count; p++)
                for (int i = 0; i < job.N; i++)
                    Decode(lease, job, prompts[p], maxTokens[p], p * job.N + i, job.Seed + (ulong)i, writer, timing, ct);
            double totalMs = total.Elapsed.TotalMilliseconds;
            writer.TryWrite(new GenerationFinished(timing.ToTimings(queueMs, totalMs)));
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !requestAborted.IsCancellationRequested)
        {
            slots.CountTimedOut();
            writer.TryWrite(new GenerationFailed(new GenerationException(StatusCodes.Status504GatewayTimeout, ErrorCodes.GenerationTimeout,
                $"The generation ran past the server's time limit of {settings.TimeoutSeconds} s and was stopped.")));
        }
        catch (OperationCanceledException)
        {
            slots.CountCancelled(); // the client went away; nobody reads what is written now
        }
        catch (GenerationException ex)
        {
            writer.TryWrite(new GenerationFailed(ex));
        }
        catch (Exception ex)
        {
            // The exception's text may name server paths: it goes to the log, the client gets the trace id.
            log.LogError(ex, "Generation failed");
            writer.TryWrite(new GenerationFailed(new GenerationException(StatusCodes.Status500InternalServerError, ErrorCodes.InternalError, "The generation failed; the server log has the details.")));
        }
        finally
        {
            slot.Dispose();
            writer.TryComplete();
        }
    }

    private static int[] Encode(Tokenizer tokenizer, string prompt, string field)
    {
        try { return tokenizer.Encode(prompt); }
        catch (Exception ex) when (ex is ArgumentException or KeyNotFoundException)
        {
            throw new GenerationException(400, ErrorCodes.ValidationFailed, $"the prompt cannot be tokenized with this run's vocabulary: {ex.Message}", field);
        }
    }

    /// <summary>Prompt tokens plus max tokens must fit the context (the 400 names both numbers).</summary>
    private static int MaxTokensFor(GenerationJob job, int promptTokens, int context)
    {
        if (promptTokens == 0)
            throw new GenerationException(400, ErrorCodes.ValidationFailed, "the prompt encodes to no tokens", job.PromptField);
        if (job.MaxTokens is int asked)
        {
            if (promptTokens + asked > context)
                throw new GenerationException(400, ErrorCodes.ContextLengthExceeded,
                    $"the prompt is {promptTokens} tokens and {job.MaxTokensField} is {asked}: together {promptTokens + asked}, over this model's context of {context} tokens; shorten the prompt or ask for at most {Math.Max(0, context - promptTokens)} tokens",
                    promptTokens >= context ? job.PromptField : job.MaxTokensField);
            return asked;
        }
        if (promptTokens >= context)
            throw new GenerationException(400, ErrorCodes.ContextLengthExceeded,
                $"the prompt is {promptTokens} tokens; this model's context is {context}, so at most {context - 1} prompt tokens leave room for {job.MaxTokensField} of at least 1", job.PromptField);
        return Math.Min(job.DefaultMaxTokens, context - promptTokens);
    }

    private sealed class TimingSums
    {
        public int PromptTokens, CompletionTokens, Choices;
        public double PromptMs, CompletionMs, FirstTokenMs = -1;

        public GenerateTimings ToTimings(double queueMs, double totalMs)
        {
            int decoded = Math.Max(0, CompletionTokens - Choices); // the first token of each choice comes with the prompt pass
            return new GenerateTimings(PromptTokens, PromptMs, PerSecond(PromptTokens, PromptMs), CompletionTokens, CompletionMs,
                PerSecond(decoded, CompletionMs), Math.Max(0, FirstTokenMs), queueMs, totalMs);
        }

        private static double PerSecond(int n, double ms) => ms > 0 ? n / (ms / 1000) : 0;
    }

    private void Decode(InferenceCache.Lease lease, GenerationJob job, int[] prompt, int maxTokens, int choice, ulong seed,
        ChannelWriter<GenerationEvent> writer, TimingSums timing, CancellationToken ct)
    {
        var options = new SamplingOptions
        {
            MaxNewTokens = maxTokens, Temperature = job.Temperature, TopK = job.TopK, TopP = job.TopP, Seed = seed, Stop = job.Stop,
            TopLogProbs = job.TopLogProbs,
        };
        var tokenizer = lease.Tokenizer;
        int? eot = tokenizer.EndOfText;
        var clock = Stopwatch.StartNew();
        double firstMs = 0;
        int count = 0;
        bool sawEnd = false;
        var ids = new List<int>();
        // Each MoveNext decodes one token and checks the token first: cancellation takes effect within one decode step.
        foreach (var token in lease.Sampler.Generate(prompt, options, ct))
        {
            if (count >= maxTokens)
            {
                // The sampler's last flush of text held back for a stop string that never came: not a new token.
                writer.TryWrite(new TokenProduced(choice, token.Text, null));
                continue;
            }
            if (count++ == 0) firstMs = clock.Elapsed.TotalMilliseconds;
            slots.CountToken();
            ids.Add(token.Id);
            bool end = token.Id == eot;
            sawEnd |= end;
            var scores = job.WantLogProbs || job.TopLogProbs > 0
                ? new TokenScores(new TokenScore(TokenText(tokenizer, token.Id), token.Id, token.LogProb), token.Top?.Select(t => new TokenScore(TokenText(tokenizer, t.Id), t.Id, t.LogProb)).ToList())
                : null;
            writer.TryWrite(new TokenProduced(choice, end ? "" : token.Text, scores)); // <|endoftext|> ends the text, it is not part of it
        }
        double ms = clock.Elapsed.TotalMilliseconds;
        string finish = sawEnd || count < maxTokens || HitStop(tokenizer, ids, job.Stop) ? "stop" : "length";
        writer.TryWrite(new ChoiceFinished(choice, finish, count));
        timing.PromptTokens += prompt.Length;
        timing.CompletionTokens += count;
        timing.Choices++;
        timing.PromptMs += firstMs;
        timing.CompletionMs += ms - firstMs;
        if (timing.FirstTokenMs < 0) timing.FirstTokenMs = firstMs;
    }

    private static bool HitStop(Tokenizer tokenizer, List<int> ids, IReadOnlyList<string> stop) =>
        stop.Count > 0 && ids.Count > 0 && stop.Any(tokenizer.Decode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ids)).Contains);

    private static string TokenText(Tokenizer tokenizer, int id) => tokenizer.Decode([id]);

    /// <summary>Log-probabilities of each prompt token given the ones before it (the first has none: NaN), in one forward pass.</summary>
    private static IReadOnlyList<TokenScores> ScorePrompt(Gpt model, Tokenizer tokenizer, int[] ids, int top)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var device = model.parameters().First().device;
        var idx = torch.tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length]).to(device);
        var logits = model.forward(idx)[0].to(torch.ScalarType.Float32).cpu(); // [T, vocab]
        if (logits.shape[1] > tokenizer.VocabSize) logits = logits.narrow(1, 0, tokenizer.VocabSize);
        var logProbs = logits.log_softmax(1);
        var result = new List<TokenScores> { new(new TokenScore(TokenText(tokenizer, ids[0]), ids[0], double.NaN), null) };
        for (int t = 1; t < ids.Length; t++)
        {
            var row = logProbs[t - 1];
            var chosen = new TokenScore(TokenText(tokenizer, ids[t]), ids[t], row[ids[t]].item<float>());
            List<TokenScore>? alternatives = null;
            if (top > 0)
            {
                var (values, which) = row.topk(Math.Min(top, (int)row.shape[0]));
                var v = values.data<float>().ToArray();
                var w = which.data<long>().ToArray();
                alternatives = v.Select((lp, k) => new TokenScore(TokenText(tokenizer, (int)w[k]), (int)w[k], lp)).ToList();
            }
            result.Add(new TokenScores(chosen, alternatives));
        }
        return result;
    }
}
