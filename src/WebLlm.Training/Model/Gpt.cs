using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace WebLlm.Training.Model;

/// <summary>
/// GPT-2, read top to bottom as nanoGPT's model.py: token + position embeddings, n_layer pre-LayerNorm
/// blocks of causal self-attention and a tanh-GELU MLP, a final LayerNorm and an output head tied to
/// <c>wte</c>. Field names are GPT-2's so that parameter names map 1:1 to Hugging Face and llm.c.
/// </summary>
public sealed class Gpt : nn.Module<Tensor, Tensor>
{
    public GptConfig Config { get; }

    private readonly Embedding wte;
    private readonly Embedding wpe;
    private readonly Dropout drop;
    private readonly ModuleList<Block> h;
    private readonly LayerNorm ln_f;

    public Gpt(GptConfig config) : base("GPT")
    {
        config.Validate();
        Config = config;
        wte = nn.Embedding(config.VocabSize, config.NEmbd);
        wpe = nn.Embedding(config.BlockSize, config.NEmbd);
        drop = nn.Dropout(config.Dropout);
        h = new ModuleList<Block>(Enumerable.Range(0, config.NLayer).Select(_ => new Block(config)).ToArray());
        ln_f = nn.LayerNorm(config.NEmbd, bias: config.Bias);
        // No lm_head module: the logits are computed with wte.weight directly. A second module sharing the
        // tensor would list it twice in parameters(), and the optimizer would step it twice.
        RegisterComponents();
        InitWeights();
    }

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
        var x = drop.call(wte.call(idx) + wpe.call(pos)); // [B, T, C]
        for (int i = 0; i < h.Count; i++)
            x = h[i].forward(x, cache, i);
        cache?.Advance((int)t);
        x = ln_f.call(x);
        if (lastOnly) x = x[.., -1.., ..]; // [B, 1, C]
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
    private void InitWeights()
    {
        using var noGrad = no_grad();
        double residualStd = 0.02 / Math.Sqrt(2.0 * Config.NLayer);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith(".bias", StringComparison.Ordinal)) nn.init.zeros_(p);
            else if (name.StartsWith("ln_", StringComparison.Ordinal) || name.Contains(".ln_", StringComparison.Ordinal)) nn.init.ones_(p);
            else if (name.EndsWith("c_proj.weight", StringComparison.Ordinal)) nn.init.normal_(p, 0, residualStd);
            else nn.init.normal_(p, 0, 0.02);
        }
    }

    /// <summary>One transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).</summary>
    internal sealed class Block : nn.Module
    {
        private readonly LayerNorm ln_1;
        private readonly CausalSelfAttention attn;
        private readonly LayerNorm ln_2;
        private readonly Mlp mlp;

        public Block(GptConfig config) : base("Block")
        {
            ln_1 = nn.LayerNorm(config.NEmbd, bias: config.Bias);
            attn = new CausalSelfAttention(config);
            ln_2 = nn.LayerNorm(config.NEmbd, bias: config.Bias);
            mlp = new Mlp(config);
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
        private readonly Dropout resid_dropout;
        private readonly int nHead;
        private readonly double dropout;

        public CausalSelfAttention(GptConfig config) : base("CausalSelfAttention")
        {
            c_attn = nn.Linear(config.NEmbd, 3 * config.NEmbd, hasBias: config.Bias); // q, k, v for all heads at once
            c_proj = nn.Linear(config.NEmbd, config.NEmbd, hasBias: config.Bias);
            resid_dropout = nn.Dropout(config.Dropout);
            nHead = config.NHead;
            dropout = config.Dropout;
            RegisterComponents();
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
            var y = F.scaled_dot_product_attention(q, k, v, p: training ? dropout : 0.0, is_casual: causal && t > 1); // [B, nh, T, hs]
            y = y.transpose(1, 2).contiguous().view(b, t, c); // [B, T, C]: heads side by side again
            return resid_dropout.call(c_proj.call(y));
        }
    }

    internal sealed class Mlp : nn.Module
    {
        private readonly Linear c_fc;
        private readonly Linear c_proj;
        private readonly Dropout dropout;

        public Mlp(GptConfig config) : base("MLP")
        {
            c_fc = nn.Linear(config.NEmbd, 4 * config.NEmbd, hasBias: config.Bias);
            c_proj = nn.Linear(4 * config.NEmbd, config.NEmbd, hasBias: config.Bias);
            dropout = nn.Dropout(config.Dropout);
            RegisterComponents();
        }

        public Tensor forward(Tensor x) =>
            dropout.call(c_proj.call(c_fc.call(x).gelu(GELU.Approximate.tanh)));
    }
}
