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
        string emitted = "";
        bool wasTraining = model.training;
        model.eval();
        using var cache = new KvCache(model.Config, 1, device);
        try
        {
            int[] pending = context.ToArray(); // tokens not yet in the cache
            for (int n = 0; n < options.MaxNewTokens; n++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (cache.Length + pending.Length > block)
                {
                    // The context is full: keep the newest half and rebuild the cache from it, so the next
                    // block/2 tokens are again one position each (nanoGPT instead crops and recomputes every token).
                    cache.Reset();
                    pending = context.Skip(context.Count - block / 2).ToArray();
                }
                var (next, logProb) = NextToken(pending, cache, device, options, rng);
                context.Add(next);
                generated.Add(next);
                pending = [next];

                // Decode everything generated so far and emit what is new: a byte-level BPE token can end
                // in the middle of a UTF-8 character, which decodes to U+FFFD until the rest arrives.
                string text = tokenizer.Decode(generated.ToArray());
                int stopAt = FindStop(text, options.Stop, emitted.Length);
                if (stopAt >= 0)
                {
                    if (stopAt > emitted.Length) yield return new GeneratedToken(next, text[emitted.Length..stopAt], logProb);
                    yield break;
                }
                string piece = text.EndsWith('\uFFFD') ? "" : text[Math.Min(emitted.Length, text.Length)..];
                // Hold back a tail that could be the start of a stop string, so a stop string is never half-emitted.
                int hold = HoldBack(text, options.Stop);
                if (piece.Length > 0 && hold > 0) piece = piece[..Math.Max(0, piece.Length - hold)];
                emitted += piece;
                yield return new GeneratedToken(next, piece, logProb);
                if (tokenizer.EndOfText is int eot && next == eot) yield break;
            }
            // Flush anything held back for a stop string that never came.
            string final = tokenizer.Decode(generated.ToArray());
            if (final.Length > emitted.Length) yield return new GeneratedToken(generated[^1], final[emitted.Length..], 0);
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }

    private (int Token, double LogProb) NextToken(int[] pending, KvCache cache, Device device, SamplingOptions options, SplitMix64 rng)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var idx = tensor(pending.Select(i => (long)i).ToArray(), [1, pending.Length]).to(device); // [1, T]
        var logits = model.forward(idx, cache, lastOnly: true)[0, -1].to(ScalarType.Float32).cpu(); // [vocab]
        // A model's vocabulary may be padded past the tokenizer's (llm.c pads GPT-2's to 50304): never pick those ids.
        if (logits.shape[0] > tokenizer.VocabSize) logits = logits.narrow(0, 0, tokenizer.VocabSize);
        var logProbs = logits.log_softmax(0);
        if (options.Temperature == 0)
        {
            int best = (int)logits.argmax().item<long>();
            return (best, logProbs[best].item<float>());
        }
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
        int chosen = keep - 1;
        for (int i = 0; i < keep; i++)
        {
            u -= probs[i];
            if (u < 0) { chosen = i; break; }
        }
        int token = (int)ids[chosen];
        return (token, logProbs[token].item<float>());
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
