using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace WebLlm.Training.Model;

/// <summary>
/// GPT-2, read top to bottom as nanoGPT's model.py: token + position embeddings, n_layer pre-LayerNorm
/// blocks of causal self-attention and a tanh-GELU MLP, a final LayerNorm and an output head tied to
/// <c>wte</c>. Field names are GPT-2's so that parameter names map 1:1 to Hugging Face and llm.c. Decoding one token at
/// batch 1, the shape of every sampling step, has a path of its own that reads these weights: <see cref="Decoder"/>.
/// </summary>
public sealed class Gpt : nn.Module<Tensor, Tensor>
{
    public GptConfig Config { get; }

    private readonly Embedding wte;
    private readonly Embedding wpe;
    private readonly SeededDropout drop;
    private readonly ModuleList<Block> h;
    private readonly LayerNorm ln_f;

    /// <param name="seed">Seeds the initial weights with a generator of the model's own, so models built
    /// on other threads at the same time (inference, tests) cannot change them; null uses torch's global one.</param>
    public Gpt(GptConfig config, long? seed = null) : base("GPT")
    {
        config.Validate();
        Config = config;
        wte = nn.Embedding(config.VocabSize, config.NEmbd);
        wpe = nn.Embedding(config.BlockSize, config.NEmbd);
        drop = new SeededDropout(config.Dropout);
        h = new ModuleList<Block>(Enumerable.Range(0, config.NLayer).Select(_ => new Block(config, drop)).ToArray());
        ln_f = nn.LayerNorm(config.NEmbd, bias: config.Bias);
        // No lm_head module: the logits are computed with wte.weight directly. A second module sharing the
        // tensor would list it twice in parameters(), and the optimizer would step it twice.
        RegisterComponents();
        using var generator = seed is long s ? new Generator((ulong)s) : null;
        InitWeights(generator);
    }

    /// <summary>Makes the next dropout masks a function of <paramref name="seed"/> (the trainer passes seed + step).</summary>
    public void SeedDropout(long seed) => drop.Seed(seed, wte.weight!.device);

    /// <summary>Logits for every position: idx [B, T] → [B, T, vocab].</summary>
    public override Tensor forward(Tensor idx) => forward(idx, cache: null, lastOnly: false);

    /// <summary>
    /// With a <paramref name="cache"/>, <paramref name="idx"/> holds only the new tokens, which sit at
    /// positions cache.Length… onwards; their keys and values are appended to the cache.
    /// With <paramref name="lastOnly"/>, only the last position's logits are computed ([B, 1, vocab]),
    /// which is all sampling needs and saves the largest matrix product of the model.
    /// </summary>
    public Tensor forward(Tensor idx, KvCache? cache, bool lastOnly)
    {
        using var scope = NewDisposeScope();
        long t = idx.shape[1];
        long start = cache?.Length ?? 0;
        if (start + t > Config.BlockSize)
            throw new ArgumentException($"Cannot forward {start + t} positions: the context is {Config.BlockSize}.");
        var pos = arange(start, start + t, dtype: ScalarType.Int64, device: idx.device); // [T]
        var x = drop.Apply(wte.call(idx) + wpe.call(pos), training); // [B, T, C]
        for (int i = 0; i < h.Count; i++)
            x = h[i].forward(x, cache, i);
        cache?.Advance((int)t);
        x = ln_f.call(x);
        if (lastOnly && t > 1) x = x.narrow(1, t - 1, 1); // [B, 1, C]
        return F.linear(x, wte.weight!).MoveToOuterDisposeScope(); // [B, T, vocab]
    }

    /// <summary>Mean cross-entropy of next-token predictions; targets [B, T].</summary>
    public Tensor Loss(Tensor idx, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var logits = forward(idx);
        return F.cross_entropy(logits.view(-1, logits.shape[^1]), targets.view(-1)).MoveToOuterDisposeScope();
    }

    /// <summary>N(0, 0.02) everywhere, zero biases, residual projections scaled by 1/sqrt(2·n_layer) (GPT-2 paper).</summary>
    private void InitWeights(Generator? generator)
    {
        using var noGrad = no_grad();
        double residualStd = 0.02 / Math.Sqrt(2.0 * Config.NLayer);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith(".bias", StringComparison.Ordinal)) nn.init.zeros_(p);
            else if (name.StartsWith("ln_", StringComparison.Ordinal) || name.Contains(".ln_", StringComparison.Ordinal)) nn.init.ones_(p);
            else if (name.EndsWith("c_proj.weight", StringComparison.Ordinal)) Normal(p, residualStd, generator);
            else Normal(p, 0.02, generator);
        }
    }

    // nn.init.normal_ ignores its generator argument in TorchSharp 0.107, so draw with randn instead.
    private static void Normal(Tensor p, double std, Generator? generator)
    {
        using var draw = randn(p.shape, dtype: p.dtype, device: p.device, generator: generator);
        p.copy_(draw.mul_(std));
    }

    /// <summary>One transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).</summary>
    internal sealed class Block : nn.Module
    {
        private readonly LayerNorm ln_1;
        private readonly CausalSelfAttention attn;
        private readonly LayerNorm ln_2;
        private readonly Mlp mlp;

        public Block(GptConfig config, SeededDropout dropout) : base("Block")
        {
            ln_1 = nn.LayerNorm(config.NEmbd, bias: config.Bias);
            attn = new CausalSelfAttention(config, dropout);
            ln_2 = nn.LayerNorm(config.NEmbd, bias: config.Bias);
            mlp = new Mlp(config, dropout);
            RegisterComponents();
        }

        public Tensor forward(Tensor x, KvCache? cache, int layer)
        {
            x = x + attn.forward(ln_1.call(x), cache, layer);
            return x + mlp.forward(ln_2.call(x));
        }
    }

    internal sealed class CausalSelfAttention : nn.Module
    {
        private readonly Linear c_attn;
        private readonly Linear c_proj;
        private readonly SeededDropout dropout;
        private readonly int nHead;

        public CausalSelfAttention(GptConfig config, SeededDropout dropout) : base("CausalSelfAttention")
        {
            c_attn = nn.Linear(config.NEmbd, 3 * config.NEmbd, hasBias: config.Bias); // q, k, v for all heads at once
            c_proj = nn.Linear(config.NEmbd, config.NEmbd, hasBias: config.Bias);
            nHead = config.NHead;
            RegisterComponents();
            this.dropout = dropout;
        }

        public Tensor forward(Tensor x, KvCache? cache, int layer)
        {
            long b = x.shape[0], t = x.shape[1], c = x.shape[2];
            var qkv = c_attn.call(x).split(c, dim: 2); // 3 × [B, T, C]
            var q = qkv[0].view(b, t, nHead, c / nHead).transpose(1, 2); // [B, nh, T, hs]
            var k = qkv[1].view(b, t, nHead, c / nHead).transpose(1, 2); // [B, nh, T, hs]
            var v = qkv[2].view(b, t, nHead, c / nHead).transpose(1, 2); // [B, nh, T, hs]
            bool causal = true;
            if (cache is not null)
            {
                // Earlier positions are all visible to a single new token, so no mask is needed then;
                // several new tokens only ever arrive into an empty cache (the prompt), where causal is right.
                (k, v) = cache.Append(layer, k, v); // [B, nh, past + T, hs]
                causal = cache.Length == 0;
                if (!causal && t > 1)
                    throw new InvalidOperationException("Several new tokens can only be added to an empty KV cache.");
            }
            Tensor y;
            if (training && dropout.P > 0)
            {
                // The explicit form, so attention dropout draws from the seeded generator (the fused kernel
                // uses torch's global one, which other threads share).
                var att = q.matmul(k.transpose(-2, -1)) / Math.Sqrt(c / nHead); // [B, nh, T, T]
                var future = ones([t, t], dtype: ScalarType.Bool, device: x.device).triu(1);
                att = dropout.Apply(att.masked_fill(future, double.NegativeInfinity).softmax(-1), training);
                y = att.matmul(v); // [B, nh, T, hs]
            }
            else
            {
                y = F.scaled_dot_product_attention(q, k, v, is_casual: causal && t > 1); // [B, nh, T, hs]
            }
            y = y.transpose(1, 2).contiguous().view(b, t, c); // [B, T, C]: heads side by side again
            return dropout.Apply(c_proj.call(y), training);
        }
    }

    internal sealed class Mlp : nn.Module
    {
        private readonly Linear c_fc;
        private readonly Linear c_proj;
        private readonly SeededDropout dropout;

        public Mlp(GptConfig config, SeededDropout dropout) : base("MLP")
        {
            c_fc = nn.Linear(config.NEmbd, 4 * config.NEmbd, hasBias: config.Bias);
            c_proj = nn.Linear(4 * config.NEmbd, config.NEmbd, hasBias: config.Bias);
            RegisterComponents();
            this.dropout = dropout;
        }

        public Tensor forward(Tensor x)
        {
            var hidden = c_fc.call(x).gelu(GELU.Approximate.tanh); // [B, T, 4C]
            return dropout.Apply(c_proj.call(hidden), training); // [B, T, C]
        }
    }

    /// <summary>
    /// Dropout drawing its masks from a generator the trainer seeds every step, so that a resumed run
    /// draws the same masks and no other thread's use of torch's global generator can change them.
    /// </summary>
    internal sealed class SeededDropout(double p)
    {
        private Generator? generator;

        public double P { get; } = p;

        public void Seed(long seed, Device device)
        {
            generator ??= new Generator((ulong)seed, device);
            generator.manual_seed(seed);
        }

        public Tensor Apply(Tensor x, bool training)
        {
            if (!training || P == 0) return x;
            var keep = rand(x.shape, device: x.device, generator: generator).ge_(P); // [same as x]
            return x * keep / (1 - P);
        }
    }
}
