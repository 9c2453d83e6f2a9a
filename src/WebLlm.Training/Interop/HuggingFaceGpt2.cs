using System.Text.Json.Nodes;
using WebLlm.Training.Checkpoints;
using WebLlm.Training.Model;
using WebLlm.Training.Tokenization;

namespace WebLlm.Training.Interop;

/// <summary>
/// Hugging Face GPT-2 folders (<c>model.safetensors</c> + <c>config.json</c>, as <c>save_pretrained</c> writes
/// and the hub serves for gpt2 … gpt2-xl). WebLlm checkpoints already store weights in this layout, so export
/// is a copy and import reads the config and weights into a new checkpoint at step 0.
/// </summary>
public static class HuggingFaceGpt2
{
    /// <summary>The model shape that a Hugging Face GPT-2 <c>config.json</c> describes; rejects what GPT-2 code here cannot run.</summary>
    public static GptConfig ReadConfig(string configPath)
    {
        JsonObject json;
        try
        {
            json = JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject ?? throw new InvalidDataException($"{configPath} is not a JSON object.");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"{configPath} is not valid JSON ({e.Message}).", e);
        }
        try
        {
            string modelType = json["model_type"]?.GetValue<string>() ?? "gpt2";
            if (modelType != "gpt2") throw new InvalidDataException($"{configPath}: model_type '{modelType}' is not gpt2.");
            string activation = json["activation_function"]?.GetValue<string>() ?? "gelu_new";
            if (activation is not ("gelu_new" or "gelu_pytorch_tanh"))
                throw new InvalidDataException($"{configPath}: activation_function '{activation}' is not GPT-2's tanh GELU (gelu_new).");
            double eps = json["layer_norm_epsilon"]?.GetValue<double>() ?? 1e-5;
            if (Math.Abs(eps - 1e-5) > 1e-9) throw new InvalidDataException($"{configPath}: layer_norm_epsilon {eps} is not GPT-2's 1e-5.");
            if (json["n_inner"] is JsonValue inner && inner.GetValue<int?>() is int n && n != 4 * Int(json, "n_embd", configPath))
                throw new InvalidDataException($"{configPath}: n_inner {n} is not 4 × n_embd.");
            var config = new GptConfig
            {
                NLayer = Int(json, "n_layer", configPath),
                NHead = Int(json, "n_head", configPath),
                NEmbd = Int(json, "n_embd", configPath),
                BlockSize = json["n_positions"] is not null ? Int(json, "n_positions", configPath) : Int(json, "n_ctx", configPath),
                VocabSize = Int(json, "vocab_size", configPath),
                Bias = true,
            };
            config.Validate();
            return config;
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException)
        {
            throw new InvalidDataException($"{configPath}: {e.Message}", e);
        }
    }

    private static int Int(JsonObject json, string name, string path) =>
        json[name]?.GetValue<int>() ?? throw new InvalidDataException($"{path} has no '{name}'.");

    /// <summary>
    /// Imports a Hugging Face GPT-2 folder as a WebLlm run folder (<c>&lt;runDir&gt;/checkpoints/step_00000000</c>).
    /// The tokenizer is GPT-2's unless <paramref name="tokenizer"/> says otherwise.
    /// </summary>
    public static CheckpointInfo Import(string huggingFaceDir, string runDir, TokenizerSpec? tokenizer = null)
    {
        var config = ReadConfig(Path.Combine(huggingFaceDir, Checkpoint.HfConfigFile));
        tokenizer ??= config.VocabSize == Gpt2Tokenizer.Gpt2VocabSize
            ? TokenizerSpec.Gpt2
            : throw new ArgumentException($"The model's vocabulary is {config.VocabSize}, not GPT-2's {Gpt2Tokenizer.Gpt2VocabSize}: say which tokenizer it uses (a dataset folder).");
        using var model = new Gpt(config);
        HuggingFaceLayout.LoadWeights(model, Path.Combine(huggingFaceDir, Checkpoint.ModelFile));
        var manifest = new CheckpointManifest { Step = 0, Model = config, Tokenizer = tokenizer, Source = "huggingface:" + Path.GetFullPath(huggingFaceDir) };
        return Checkpoint.Save(new RunFolder(runDir).Checkpoints, model, manifest);
    }

    /// <summary>Writes <c>model.safetensors</c> and <c>config.json</c> of a checkpoint into <paramref name="outputDir"/>.</summary>
    public static void Export(string checkpointDir, string outputDir)
    {
        // Reading the manifest proves it is a complete WebLlm checkpoint. A model without biases was saved with
        // zero biases, which is what transformers needs to load it.
        Checkpoint.ReadManifest(checkpointDir);
        Directory.CreateDirectory(outputDir);
        foreach (var file in new[] { Checkpoint.ModelFile, Checkpoint.HfConfigFile })
            File.Copy(Path.Combine(checkpointDir, file), Path.Combine(outputDir, file), overwrite: true);
    }
}
