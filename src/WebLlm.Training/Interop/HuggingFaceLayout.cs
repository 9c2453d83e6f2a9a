using System.Text.Json.Nodes;
using WebLlm.Training.Checkpoints;
using WebLlm.Training.Model;
using static TorchSharp.torch;

namespace WebLlm.Training.Interop;

/// <summary>
/// Hugging Face's GPT-2 layout (GPT2LMHeadModel): the <c>transformer.</c> prefix, Conv1D weights stored [in, out] where
/// this model's Linear holds [out, in], and the <c>config.json</c> transformers reads. Checkpoints are written in it, so
/// every checkpoint folder is also a Hugging Face model folder; imports read it (<see cref="HuggingFaceGpt2"/>).
/// </summary>
internal static class HuggingFaceLayout
{
    private static readonly string[] Conv1D = ["attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"];

    /// <summary>Copies weights stored with Hugging Face GPT-2 names (with or without the <c>transformer.</c> prefix) into the model.</summary>
    public static void LoadWeights(Gpt model, string safetensorsPath)
    {
        var wanted = model.named_parameters().Select(p => p.name).ToHashSet();
        // Only the parameters are read: Hugging Face files also hold attention-mask buffers (h.N.attn.bias).
        var (tensors, _) = SafeTensors.Read(safetensorsPath, n => wanted.Contains(n.StartsWith("transformer.", StringComparison.Ordinal) ? n[12..] : n));
        try
        {
            using var noGrad = no_grad();
            foreach (var (name, p) in model.named_parameters())
            {
                if (!tensors.TryGetValue("transformer." + name, out var t) && !tensors.TryGetValue(name, out t))
                    throw new InvalidDataException($"{safetensorsPath}: missing tensor '{name}'.");
                var source = IsConv1D(name) ? t.t() : t;
                if (!source.shape.SequenceEqual(p.shape))
                    throw new InvalidDataException($"{safetensorsPath}: tensor '{name}' has shape [{string.Join(", ", t.shape)}], the model needs [{string.Join(", ", (IsConv1D(name) ? p.t() : p).shape)}].");
                p.copy_(source);
            }
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>Parameters under GPT2LMHeadModel's names; biases the model lacks (bias=false) are written as zeros so transformers can load them.</summary>
    public static IEnumerable<(string, Tensor)> Parameters(Gpt model)
    {
        var names = new HashSet<string>();
        foreach (var (name, p) in model.named_parameters())
        {
            names.Add(name);
            yield return ("transformer." + name, IsConv1D(name) ? p.detach().t() : p.detach());
        }
        if (model.Config.Bias) yield break;
        foreach (var (name, p) in model.named_parameters())
        {
            string bias = name[..^".weight".Length] + ".bias";
            if (name.EndsWith(".weight", StringComparison.Ordinal) && name != "wte.weight" && name != "wpe.weight" && !names.Contains(bias))
                yield return ("transformer." + bias, zeros(IsConv1D(name) ? p.shape[0] : p.shape[^1]));
        }
    }

    private static bool IsConv1D(string name) => Conv1D.Any(s => name.EndsWith(s, StringComparison.Ordinal));

    public static JsonObject Config(GptConfig c) => new()
    {
        ["architectures"] = new JsonArray("GPT2LMHeadModel"),
        ["model_type"] = "gpt2",
        ["vocab_size"] = c.VocabSize,
        ["n_positions"] = c.BlockSize,
        ["n_ctx"] = c.BlockSize,
        ["n_embd"] = c.NEmbd,
        ["n_layer"] = c.NLayer,
        ["n_head"] = c.NHead,
        ["n_inner"] = null,
        ["activation_function"] = "gelu_new",
        ["layer_norm_epsilon"] = 1e-5,
        ["resid_pdrop"] = c.Dropout,
        ["embd_pdrop"] = c.Dropout,
        ["attn_pdrop"] = c.Dropout,
        ["initializer_range"] = 0.02,
        ["tie_word_embeddings"] = true,
        ["bos_token_id"] = 50256,
        ["eos_token_id"] = 50256,
    };
}
