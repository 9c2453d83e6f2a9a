using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;
using Decoder = WebLlm.Training.Model.Decoder;
using WebLlm.Training.Model;
using WebLlm.Training.Tokenization;
using static TorchSharp.torch;

namespace WebLlm.Training.Sampling;

/// <summary>
/// Autoregressive generation with a KV cache: the prompt is run once, then each new token costs one
/// position, decoded by a <see cref="Decoder"/> where it applies (batch 1 on the CPU). The random draw uses a seeded
/// generator of our own (SplitMix64), so the same seed and options give the same text on every machine and after every
/// restart. One generation at a time: the owner of a model keeps one sampler for it, whose decoder (and that decoder's
/// helper thread) lives until the sampler is disposed.
/// </summary>
public sealed class Sampler : IDisposable
{
    private readonly Gpt model;
    private readonly Tokenizer tokenizer;
    private readonly Lazy<Decoder?> decoder;

    public Sampler(Gpt model, Tokenizer tokenizer)
    {
        this.model = model;
        this.tokenizer = tokenizer;
        decoder = new(() => Decoder.For(model));
    }

    public void Dispose()
    {
        if (decoder.IsValueCreated) decoder.Value?.Dispose();
    }

    /// <summary>Generates text after <paramref name="prompt"/>; tokens are yielded as they are produced.</summary>
    public IEnumerable<GeneratedToken> Generate(string prompt, SamplingOptions options, CancellationToken cancellationToken = default)
    {
        var ids = tokenizer.Encode(prompt);
        if (ids.Length == 0 && tokenizer.EndOfText is int eot) ids = [eot]; // GPT-2 starts documents after <|endoftext|>
        if (ids.Length == 0) throw new ArgumentException("The prompt is empty and the tokenizer has no end-of-text token to start from.");
        return Generate(ids, options, cancellationToken);
    }

    public IEnumerable<GeneratedToken> Generate(int[] promptIds, SamplingOptions options, CancellationToken cancellationToken = default)
    {
        options.Validate();
        if (promptIds.Length == 0) throw new ArgumentException("The prompt has no tokens.");
        return GenerateIterator(promptIds, options, cancellationToken);
    }

    /// <summary>Runs a whole generation and returns the text.</summary>
    public string Complete(string prompt, SamplingOptions options) =>
        string.Concat(Generate(prompt, options).Select(t => t.Text));

    private IEnumerable<GeneratedToken> GenerateIterator(int[] promptIds, SamplingOptions options, CancellationToken cancellationToken)
    {
        int block = model.Config.BlockSize;
        var device = model.parameters().First().device;
        var rng = new SplitMix64(options.Seed);
        var context = new List<int>(promptIds.Length > block ? promptIds[^block..] : promptIds);
        var generated = new List<int>();
        // Text of tokens whose characters are complete, so each step decodes only the few tokens after them.
        var settledText = new StringBuilder();
        int settled = 0;
        int emitted = 0; // characters of the text already yielded
        bool wasTraining = model.training;
        model.eval();
        using var cache = options.UseKvCache ? new KvCache(model.Config, 1, device) : null;
        var decoder = cache is not null ? this.decoder.Value : null;
        try
        {
            int[] pending = context.ToArray(); // tokens not yet in the cache
            for (int n = 0; n < options.MaxNewTokens; n++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (cache is null)
                {
                    pending = context.Skip(Math.Max(0, context.Count - block)).ToArray();
                }
                else if (cache.Length + pending.Length > block)
                {
                    // The context is full: keep the newest half and rebuild the cache from it, so the next
                    // block/2 tokens are again one position each (nanoGPT instead crops and recomputes every token).
                    cache.Reset();
                    pending = context.Skip(context.Count - block / 2).ToArray();
                }
                var token = NextToken(pending, cache, decoder, device, options, rng);
                int next = token.Id;
                context.Add(next);
                generated.Add(next);
                pending = [next];

                // A byte-level BPE token can end inside a UTF-8 character, which decodes to U+FFFD until the
                // rest arrives: such tokens stay unsettled and their text is not emitted yet.
                string tail = tokenizer.Decode(CollectionsMarshal.AsSpan(generated)[settled..]);
                string text = settledText + tail;
                if (!tail.EndsWith('\uFFFD'))
                {
                    settledText.Append(tail);
                    settled = generated.Count;
                }
                int stopAt = FindStop(text, options.Stop, emitted);
                if (stopAt >= 0)
                {
                    if (stopAt > emitted) yield return token with { Text = text[emitted..stopAt] };
                    yield break;
                }
                int complete = text.EndsWith('\uFFFD') ? settledText.Length : text.Length;
                // Hold back a tail that could be the start of a stop string, so a stop string is never half-emitted.
                int upTo = Math.Max(emitted, complete - HoldBack(text[..complete], options.Stop));
                yield return token with { Text = text[emitted..upTo] };
                emitted = upTo;
                if (tokenizer.EndOfText is int eot && next == eot) yield break;
            }
            // Flush anything held back for a stop string that never came.
            string final = settledText + tokenizer.Decode(CollectionsMarshal.AsSpan(generated)[settled..]);
            if (final.Length > emitted) yield return new GeneratedToken(generated[^1], final[emitted..], 0);
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }

    private GeneratedToken NextToken(int[] pending, KvCache? cache, Decoder? decoder, Device device, SamplingOptions options, SplitMix64 rng)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var idx = tensor(pending.Select(i => (long)i).ToArray(), [1, pending.Length]).to(device); // [1, T]
        var logitsOut = (pending.Length == 1 && cache is not null ? decoder?.Step(idx, cache) : null)
            ?? model.forward(idx, cache, lastOnly: true); // [1, 1, vocab]
        var last = logitsOut[0, -1].to(ScalarType.Float32).cpu().contiguous(); // [vocab]
        // Sampling reads the logits here rather than through libtorch's softmax and top-k: on 50,257 values those
        // split the work over its thread pool, and on a busy machine waiting for a pool thread whose core another
        // process holds costs milliseconds per token, more than the whole sampling step.
        // A model's vocabulary may be padded past the tokenizer's (llm.c pads GPT-2's to 50304): never pick those ids.
        var logits = MemoryMarshal.Cast<byte, float>(last.bytes)[..(int)Math.Min(last.shape[0], tokenizer.VocabSize)];
        double logZ = LogSumExp(logits);
        int token = options.Temperature == 0 ? Largest(logits, 1)[0] : Draw(logits, options, rng);
        List<TokenLogProb>? top = null;
        if (options.TopLogProbs > 0)
        {
            top = [];
            foreach (int i in Largest(logits, Math.Min(options.TopLogProbs, logits.Length)))
                top.Add(new TokenLogProb(i, (float)(logits[i] - logZ)));
        }
        return new GeneratedToken(token, "", (float)(logits[token] - logZ)) { Top = top };
    }

    /// <summary>Temperature, then top-k, then top-p, then one draw from what is left.</summary>
    private static int Draw(ReadOnlySpan<float> logits, SamplingOptions options, SplitMix64 rng)
    {
        int[] ids = Largest(logits, options.TopK > 0 ? Math.Min(options.TopK, logits.Length) : logits.Length);
        var probs = new double[ids.Length]; // softmax of logits / temperature over the candidates
        double highest = logits[ids[0]] / options.Temperature, sum = 0;
        for (int i = 0; i < ids.Length; i++) sum += probs[i] = Math.Exp(logits[ids[i]] / options.Temperature - highest);
        for (int i = 0; i < probs.Length; i++) probs[i] /= sum;
        int keep = probs.Length;
        if (options.TopP < 1)
        {
            double cumulative = 0;
            for (int i = 0; i < probs.Length; i++)
            {
                cumulative += probs[i];
                if (cumulative >= options.TopP) { keep = i + 1; break; }
            }
        }
        double total = 0;
        for (int i = 0; i < keep; i++) total += probs[i];
        double u = rng.NextDouble() * total;
        for (int i = 0; i < keep; i++)
        {
            u -= probs[i];
            if (u < 0) return ids[i];
        }
        return ids[keep - 1];
    }

    /// <summary>The ids of the <paramref name="k"/> largest logits, largest first (ties: lower id first).</summary>
    private static int[] Largest(ReadOnlySpan<float> logits, int k)
    {
        // A min-heap of the best k so far: most logits lose to its smallest at one comparison.
        var heap = new PriorityQueue<int, (float Logit, int NegId)>(k);
        float least = float.NegativeInfinity; // the heap's smallest logit once it is full
        for (int i = 0; i < logits.Length; i++)
        {
            if (logits[i] < least) continue;
            var key = (logits[i], -i);
            if (heap.Count < k) heap.Enqueue(i, key);
            else if (heap.TryPeek(out _, out var smallest) && key.CompareTo(smallest) > 0) heap.DequeueEnqueue(i, key);
            if (heap.Count == k && heap.TryPeek(out _, out var now)) least = now.Logit;
        }
        var ids = new int[heap.Count];
        for (int i = ids.Length - 1; i >= 0; i--) ids[i] = heap.Dequeue();
        return ids;
    }

    /// <summary>
    /// log Σ exp(logits), shifted by the largest so that nothing overflows. In double like the scalar loop it replaces,
    /// eight logits at a time: one scalar exp per logit of a 50,257-word vocabulary was 0.4 ms of every token.
    /// </summary>
    internal static double LogSumExp(ReadOnlySpan<float> logits)
    {
        var maxes = Vector256.Create(float.NegativeInfinity);
        int i = 0;
        for (; i <= logits.Length - 8; i += 8) maxes = Vector256.Max(maxes, Vector256.Create(logits.Slice(i, 8)));
        float max = float.NegativeInfinity;
        for (int lane = 0; lane < 8; lane++) max = Math.Max(max, maxes[lane]);
        for (; i < logits.Length; i++) max = Math.Max(max, logits[i]);
        var shift = Vector256.Create((double)max);
        var sums = Vector256<double>.Zero;
        for (i = 0; i <= logits.Length - 8; i += 8)
        {
            var eight = Vector256.Create(logits.Slice(i, 8));
            sums += Vector256.Exp(Vector256.WidenLower(eight) - shift) + Vector256.Exp(Vector256.WidenUpper(eight) - shift);
        }
        double sum = Vector256.Sum(sums);
        for (; i < logits.Length; i++) sum += Math.Exp(logits[i] - max);
        return max + Math.Log(sum);
    }

    private static int FindStop(string text, IReadOnlyList<string> stops, int from)
    {
        int best = -1;
        foreach (var s in stops)
        {
            int i = text.IndexOf(s, Math.Max(0, from - s.Length + 1), StringComparison.Ordinal);
            if (i >= 0 && (best < 0 || i < best)) best = i;
        }
        return best;
    }

    private static int HoldBack(string text, IReadOnlyList<string> stops)
    {
        int hold = 0;
        foreach (var s in stops)
            for (int k = Math.Min(s.Length - 1, text.Length); k > hold; k--)
                if (text.EndsWith(s[..k], StringComparison.Ordinal)) { hold = k; break; }
        return hold;
    }
}
