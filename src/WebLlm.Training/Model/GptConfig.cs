using System.Text.Json.Serialization;

namespace WebLlm.Training.Model;

/// <summary>
/// The shape of a GPT-2 style model. Field names follow nanoGPT's <c>GPTConfig</c>; the JSON names
/// follow Hugging Face's GPT-2 <c>config.json</c> where one exists.
/// </summary>
public sealed record GptConfig
{
    [JsonPropertyName("n_positions")] public int BlockSize { get; init; } = 1024;
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 50257;
    [JsonPropertyName("n_layer")] public int NLayer { get; init; } = 12;
    [JsonPropertyName("n_head")] public int NHead { get; init; } = 12;
    [JsonPropertyName("n_embd")] public int NEmbd { get; init; } = 768;
    [JsonPropertyName("dropout")] public double Dropout { get; init; }
    /// <summary>Biases in Linear and LayerNorm layers, as GPT-2. False is a bit better and faster (nanoGPT).</summary>
    [JsonPropertyName("bias")] public bool Bias { get; init; } = true;

    public static IReadOnlyDictionary<string, GptConfig> Presets { get; } = new Dictionary<string, GptConfig>
    {
        // nanoGPT's shakespeare_char recipe scaled down until a CPU step takes milliseconds.
        ["tiny"] = new() { NLayer = 4, NHead = 4, NEmbd = 128, BlockSize = 64 },
        // nanoGPT's shakespeare_char: 6 layers, 6 heads, 384 wide, context 256.
        ["baby"] = new() { NLayer = 6, NHead = 6, NEmbd = 384, BlockSize = 256 },
        ["gpt2"] = new() { NLayer = 12, NHead = 12, NEmbd = 768 },
        ["gpt2-medium"] = new() { NLayer = 24, NHead = 16, NEmbd = 1024 },
        ["gpt2-large"] = new() { NLayer = 36, NHead = 20, NEmbd = 1280 },
        ["gpt2-xl"] = new() { NLayer = 48, NHead = 25, NEmbd = 1600 },
    };

    /// <summary>The preset with the given name; its vocabulary is GPT-2's until the dataset says otherwise.</summary>
    public static GptConfig FromPreset(string name) =>
        Presets.TryGetValue(name, out var config)
            ? config
            : throw new ArgumentException($"Unknown preset '{name}'. Known presets: {string.Join(", ", Presets.Keys)}.", nameof(name));

    /// <summary>Throws with every problem listed when the shape cannot make a model.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        if (NLayer < 1) errors.Add($"n_layer must be at least 1 (got {NLayer})");
        if (NHead < 1) errors.Add($"n_head must be at least 1 (got {NHead})");
        if (NEmbd < 1) errors.Add($"n_embd must be at least 1 (got {NEmbd})");
        else if (NHead >= 1 && NEmbd % NHead != 0) errors.Add($"n_embd ({NEmbd}) must be divisible by n_head ({NHead})");
        if (BlockSize < 1) errors.Add($"block size must be at least 1 (got {BlockSize})");
        if (VocabSize < 1) errors.Add($"vocab_size must be at least 1 (got {VocabSize})");
        if (Dropout is < 0 or >= 1 || double.IsNaN(Dropout)) errors.Add($"dropout must be in [0, 1) (got {Dropout})");
        if (errors.Count > 0) throw new ArgumentException("Invalid model config: " + string.Join("; ", errors) + ".");
    }

    /// <summary>Parameters with the output head tied to <c>wte</c> (counted once), as GPT-2.</summary>
    [JsonIgnore]
    public long ParameterCount
    {
        get
        {
            long c = NEmbd, b = Bias ? 1 : 0;
            long layerNorm = c + b * c;
            long block = layerNorm + (c * 3 * c + b * 3 * c) + (c * c + b * c)
                       + layerNorm + (c * 4 * c + b * 4 * c) + (4 * c * c + b * c);
            return (long)VocabSize * c + (long)BlockSize * c + NLayer * block + layerNorm;
        }
    }

    /// <summary>
    /// Model FLOPs per token for a forward and backward pass at context <paramref name="seqLen"/>:
    /// 6·N for the matrix products plus 12·L·H·Q·T for attention (PaLM appendix B, nanoGPT's estimate_mfu).
    /// N leaves out the position embeddings, which cost no multiplications.
    /// </summary>
    public double TrainingFlopsPerToken(int seqLen)
    {
        double n = ParameterCount - (double)BlockSize * NEmbd;
        return 6 * n + 12.0 * NLayer * NHead * (NEmbd / NHead) * seqLen;
    }
}
