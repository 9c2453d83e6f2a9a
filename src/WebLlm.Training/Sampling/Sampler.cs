using System.Runtime.InteropServices;
using System.Text;
using WebLlm.Training.Model;
using WebLlm.Training.Tokenization;
using static TorchSharp.torch;

namespace WebLlm.Training.Sampling;

/// <summary>
/// Autoregressive generation with a KV cache: the prompt is run once, then each new token costs one
/// position. The random draw uses a seeded generator of our own (SplitMix64), so the same seed and
/// options give the same text on every machine and after every restart.
/// </summary>
public sealed class Sampler
{
    private readonly Gpt model;
    private readonly Tokenizer tokenizer;

    public Sampler(Gpt model, Tokenizer tokenizer)
    {
        this.model = model;
        this.tokenizer = tokenizer;
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
                var token = NextToken(pending, cache, device, options, rng);
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

    private GeneratedToken NextToken(int[] pending, KvCache? cache, Device device, SamplingOptions options, SplitMix64 rng)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var idx = tensor(pending.Select(i => (long)i).ToArray(), [1, pending.Length]).to(device); // [1, T]
        var logits = model.forward(idx, cache, lastOnly: true)[0, -1].to(ScalarType.Float32).cpu(); // [vocab]
        // A model's vocabulary may be padded past the tokenizer's (llm.c pads GPT-2's to 50304): never pick those ids.
        if (logits.shape[0] > tokenizer.VocabSize) logits = logits.narrow(0, 0, tokenizer.VocabSize);
        var logProbs = logits.log_softmax(0);
        int token = options.Temperature == 0 ? (int)logits.argmax().item<long>() : Draw(logits, options, rng);
        IReadOnlyList<TokenLogProb>? top = null;
        if (options.TopLogProbs > 0)
        {
            var (values, ids) = logProbs.topk(Math.Min(options.TopLogProbs, (int)logProbs.shape[0]));
            var v = values.data<float>().ToArray();
            var i = ids.data<long>().ToArray();
            top = v.Select((lp, k) => new TokenLogProb((int)i[k], lp)).ToList();
        }
        return new GeneratedToken(token, "", logProbs[token].item<float>()) { Top = top };
    }

    /// <summary>Temperature, then top-k, then top-p, then one draw from what is left.</summary>
    private static int Draw(Tensor logits, SamplingOptions options, SplitMix64 rng)
    {
        var scaled = logits / options.Temperature;
        Tensor candidates, candidateIds;
        if (options.TopK > 0 && options.TopK < scaled.shape[0])
            (candidates, candidateIds) = scaled.topk(options.TopK); // sorted, largest first
        else
            (candidates, candidateIds) = scaled.sort(descending: true);
        var probs = candidates.softmax(0).data<float>().ToArray();
        var ids = candidateIds.data<long>().ToArray();
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
            if (u < 0) return (int)ids[i];
        }
        return (int)ids[keep - 1];
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
