using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using WebLlm.Training.Model;
using WebLlm.Training.Tokenization;
using static TorchSharp.torch;

namespace WebLlm.Training.Checkpoints;

/// <summary>What a checkpoint says about itself (<c>webllm.json</c>).</summary>
public sealed record CheckpointManifest
{
    public int FormatVersion { get; init; } = 1;
    public required long Step { get; init; }
    public required GptConfig Model { get; init; }
    public required TokenizerSpec Tokenizer { get; init; }
    public JsonObject? Training { get; init; }
    public double? TrainLoss { get; init; }
    public double? ValLoss { get; init; }
    public DateTime CreatedUtc { get; init; } = DateTime.UtcNow;
    /// <summary>Where imported weights came from (e.g. "huggingface:/path", "llmc:/path"); null for trained ones.</summary>
    public string? Source { get; init; }

    /// <summary>The training options the run used, when the checkpoint records them.</summary>
    public Training.TrainOptions? ReadTrainOptions() => Training?.Deserialize<Training.TrainOptions>(Checkpoint.Json);
}

/// <summary>A complete checkpoint on disk.</summary>
public sealed record CheckpointInfo(string Directory, long Step, long SizeBytes, double? ValLoss);

/// <summary>
/// Checkpoint folders under <c>&lt;run&gt;/checkpoints/step_NNNNNNNN</c>:
/// <list type="bullet">
/// <item><c>model.safetensors</c> + <c>config.json</c>: Hugging Face GPT-2's layout (GPT2LMHeadModel loads it as is;
/// Conv1D weights are [in, out], i.e. transposed from our Linear layers);</item>
/// <item><c>optimizer.safetensors</c>: AdamW moments, by parameter name;</item>
/// <item><c>webllm.json</c>: step, model config, tokenizer, training options, losses.</item>
/// </list>
/// A checkpoint is written into a <c>.tmp</c> folder, every file flushed to disk, then the folder is renamed:
/// a folder with the final name is always complete. Data position and dropout randomness are functions of
/// (seed, step), so the step is all the RNG state there is.
/// </summary>
public static class Checkpoint
{
    public const string ModelFile = "model.safetensors";
    public const string HfConfigFile = "config.json";
    public const string OptimizerFile = "optimizer.safetensors";
    public const string ManifestFile = "webllm.json";
    private const string TempSuffix = ".tmp";

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private static readonly string[] Conv1D = ["attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"];

    public static string FolderName(long step) => "step_" + step.ToString("D8", CultureInfo.InvariantCulture);

    /// <summary>Writes a checkpoint of <paramref name="model"/> (and optimizer moments when given) under <paramref name="checkpointsDir"/>.</summary>
    public static CheckpointInfo Save(string checkpointsDir, Gpt model, CheckpointManifest manifest,
        IEnumerable<(string Name, Tensor M, Tensor V)>? optimizerState = null, long optimizerStep = 0)
    {
        using var scope = NewDisposeScope(); // the transposed and detached views made for writing
        Directory.CreateDirectory(checkpointsDir);
        string final = Path.Combine(checkpointsDir, FolderName(manifest.Step));
        string temp = final + TempSuffix;
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);

        WriteFile(Path.Combine(temp, ModelFile), s => SafeTensors.Write(s, ToHuggingFace(model), new Dictionary<string, string> { ["format"] = "pt" }));
        WriteFile(Path.Combine(temp, HfConfigFile), s => JsonSerializer.Serialize(s, HuggingFaceConfig(model.Config), Json));
        if (optimizerState is not null)
            WriteFile(Path.Combine(temp, OptimizerFile), s => SafeTensors.Write(s,
                optimizerState.SelectMany(o => new[] { (o.Name + ".exp_avg", o.M), (o.Name + ".exp_avg_sq", o.V) }),
                new Dictionary<string, string> { ["step"] = optimizerStep.ToString(CultureInfo.InvariantCulture) }));
        WriteFile(Path.Combine(temp, ManifestFile), s => JsonSerializer.Serialize(s, manifest, Json));

        // A folder of the same step can exist after a resume from an older checkpoint replayed this step.
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(temp, final);
        long size = new DirectoryInfo(final).EnumerateFiles().Sum(f => f.Length);
        return new CheckpointInfo(final, manifest.Step, size, manifest.ValLoss);
    }

    /// <summary>Complete checkpoints in <paramref name="checkpointsDir"/>, oldest first.</summary>
    public static IReadOnlyList<CheckpointInfo> List(string checkpointsDir)
    {
        if (!Directory.Exists(checkpointsDir)) return [];
        var list = new List<CheckpointInfo>();
        foreach (var dir in new DirectoryInfo(checkpointsDir).EnumerateDirectories("step_*"))
        {
            if (dir.Name.EndsWith(TempSuffix, StringComparison.Ordinal)) continue;
            if (!long.TryParse(dir.Name.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out long step)) continue;
            if (!File.Exists(Path.Combine(dir.FullName, ModelFile)) || !File.Exists(Path.Combine(dir.FullName, ManifestFile))) continue;
            double? val = null;
            try { val = ReadManifest(dir.FullName).ValLoss; } catch (Exception e) when (e is JsonException or IOException or InvalidDataException) { continue; }
            list.Add(new CheckpointInfo(dir.FullName, step, dir.EnumerateFiles().Sum(f => f.Length), val));
        }
        return list.OrderBy(c => c.Step).ToList();
    }

    /// <summary>Removes folders left by a checkpoint write that never finished.</summary>
    public static int CleanTemporary(string checkpointsDir)
    {
        if (!Directory.Exists(checkpointsDir)) return 0;
        int n = 0;
        foreach (var dir in Directory.EnumerateDirectories(checkpointsDir, "step_*" + TempSuffix))
        {
            Directory.Delete(dir, recursive: true);
            n++;
        }
        return n;
    }

    public static CheckpointManifest ReadManifest(string checkpointDir)
    {
        string path = Path.Combine(checkpointDir, ManifestFile);
        using var stream = File.OpenRead(path);
        return JsonSerializer.Deserialize<CheckpointManifest>(stream, Json) ?? throw new InvalidDataException($"{path} is empty.");
    }

    /// <summary>Loads the model of a checkpoint folder (or of a Hugging Face GPT-2 folder with webllm.json).</summary>
    public static (Gpt Model, CheckpointManifest Manifest) LoadModel(string checkpointDir, Device? device = null)
    {
        var manifest = ReadManifest(checkpointDir);
        var model = new Gpt(manifest.Model);
        try
        {
            LoadWeights(model, Path.Combine(checkpointDir, ModelFile));
            if (device is not null) model.to(device);
            return (model, manifest);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Reads optimizer moments and the optimizer's step count; the caller disposes the tensors.</summary>
    public static (Dictionary<string, Tensor> Moments, long Step) LoadOptimizer(string checkpointDir)
    {
        var (tensors, meta) = SafeTensors.Read(Path.Combine(checkpointDir, OptimizerFile));
        long step = meta.TryGetValue("step", out var s) ? long.Parse(s, CultureInfo.InvariantCulture) : 0;
        return (tensors, step);
    }

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
    private static IEnumerable<(string, Tensor)> ToHuggingFace(Gpt model)
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

    private static JsonObject HuggingFaceConfig(GptConfig c) => new()
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

    private static void WriteFile(string path, Action<Stream> write)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        write(stream);
        stream.Flush(flushToDisk: true);
    }
}
