using System.Buffers.Binary;
using WebLlm.Training.Checkpoints;
using WebLlm.Training.Model;
using WebLlm.Training.Tokenization;
using static TorchSharp.torch;

namespace WebLlm.Training.Interop;

/// <summary>
/// llm.c's model files (<c>gpt2_124M.bin</c>): a header of 256 int32 (magic 20240326, version 3 = fp32,
/// maxT, V, L, NH, C, Vp), then every parameter as fp32 in llm.c's order, with the vocabulary padded to
/// Vp rows (a multiple of 128). Weights are in PyTorch Linear layout [out, in], as WebLlm's.
/// The header is validated against the file size before anything is allocated.
/// </summary>
public static class LlmCModel
{
    public const int Magic = 20240326;
    public const int VersionFp32 = 3;
    private const int HeaderInts = 256;
    private const long HeaderBytes = HeaderInts * 4;

    public sealed record Header(int MaxT, int V, int L, int NH, int C, int Vp)
    {
        public GptConfig Config => new() { BlockSize = MaxT, VocabSize = V, NLayer = L, NHead = NH, NEmbd = C, Bias = true };
    }

    /// <summary>Parameter tensors in llm.c's order, each stacked over layers, as (WebLlm name pattern, shape per layer).</summary>
    private static IEnumerable<(string Name, bool PerLayer, long[] Shape)> Layout(Header h)
    {
        long c = h.C;
        yield return ("wte.weight", false, [h.Vp, c]);
        yield return ("wpe.weight", false, [h.MaxT, c]);
        yield return ("ln_1.weight", true, [c]);
        yield return ("ln_1.bias", true, [c]);
        yield return ("attn.c_attn.weight", true, [3 * c, c]);
        yield return ("attn.c_attn.bias", true, [3 * c]);
        yield return ("attn.c_proj.weight", true, [c, c]);
        yield return ("attn.c_proj.bias", true, [c]);
        yield return ("ln_2.weight", true, [c]);
        yield return ("ln_2.bias", true, [c]);
        yield return ("mlp.c_fc.weight", true, [4 * c, c]);
        yield return ("mlp.c_fc.bias", true, [4 * c]);
        yield return ("mlp.c_proj.weight", true, [c, 4 * c]);
        yield return ("mlp.c_proj.bias", true, [c]);
        yield return ("ln_f.weight", false, [c]);
        yield return ("ln_f.bias", false, [c]);
    }

    /// <summary>Reads and validates the header of an llm.c model file.</summary>
    public static Header ReadHeader(string path)
    {
        using var stream = File.OpenRead(path);
        if (stream.Length < HeaderBytes) throw new InvalidDataException($"{path}: {stream.Length} bytes is too short for an llm.c model header ({HeaderBytes} bytes).");
        var bytes = new byte[HeaderBytes];
        stream.ReadExactly(bytes);
        int At(int i) => BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(i * 4));
        if (At(0) != Magic) throw new InvalidDataException($"{path}: magic {At(0)} is not llm.c's model magic {Magic}.");
        if (At(1) != VersionFp32)
            throw new InvalidDataException($"{path}: version {At(1)} is not supported; only version {VersionFp32} (fp32) is (llm.c writes bf16 files as version 5).");
        var h = new Header(At(2), At(3), At(4), At(5), At(6), At(7));
        var problems = new List<string>();
        if (h.MaxT is < 1 or > 1 << 20) problems.Add($"maxT {h.MaxT}");
        if (h.L is < 1 or > 1024) problems.Add($"layers {h.L}");
        if (h.NH is < 1 or > 1024) problems.Add($"heads {h.NH}");
        if (h.C is < 1 or > 1 << 16 || (h.NH >= 1 && h.C % h.NH != 0)) problems.Add($"channels {h.C} (heads {h.NH})");
        if (h.V is < 1 or > 1 << 22) problems.Add($"vocabulary {h.V}");
        if (h.Vp < h.V || h.Vp > 1 << 22) problems.Add($"padded vocabulary {h.Vp} (vocabulary {h.V})");
        if (problems.Count > 0) throw new InvalidDataException($"{path}: implausible header: {string.Join(", ", problems)}.");
        long expected = checked(HeaderBytes + 4 * ParameterCount(h));
        if (stream.Length != expected)
            throw new InvalidDataException($"{path}: the header describes {expected:N0} bytes but the file has {stream.Length:N0}; it is truncated or not an fp32 llm.c model.");
        return h;
    }

    private static long ParameterCount(Header h) =>
        Layout(h).Sum(p => checked(p.Shape.Aggregate(1L, (a, d) => checked(a * d)) * (p.PerLayer ? h.L : 1)));

    /// <summary>Loads an llm.c model file into a new model (the padded vocabulary rows are dropped).</summary>
    public static Gpt Load(string path)
    {
        var h = ReadHeader(path);
        var model = new Gpt(h.Config);
        try
        {
            var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            using var stream = File.OpenRead(path);
            stream.Position = HeaderBytes;
            using var noGrad = no_grad();
            foreach (var (name, perLayer, shape) in Layout(h))
            {
                for (int layer = 0; layer < (perLayer ? h.L : 1); layer++)
                {
                    using var scope = NewDisposeScope();
                    var t = empty(shape, ScalarType.Float32);
                    t.ReadBytesFromStream(stream, 1 << 20);
                    var target = parameters[perLayer ? $"h.{layer}.{name}" : name];
                    target.copy_(name == "wte.weight" ? t.narrow(0, 0, h.V) : t);
                }
            }
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Imports an llm.c model file as a WebLlm run folder (checkpoint at step 0).</summary>
    public static CheckpointInfo Import(string path, string runDir, TokenizerSpec? tokenizer = null)
    {
        var h = ReadHeader(path);
        tokenizer ??= h.V == Gpt2Tokenizer.Gpt2VocabSize
            ? TokenizerSpec.Gpt2
            : throw new ArgumentException($"The model's vocabulary is {h.V}, not GPT-2's {Gpt2Tokenizer.Gpt2VocabSize}: say which tokenizer it uses (a dataset folder).");
        using var model = Load(path);
        var manifest = new CheckpointManifest { Step = 0, Model = model.Config, Tokenizer = tokenizer, Source = "llmc:" + Path.GetFullPath(path) };
        return Checkpoint.Save(new RunFolder(runDir).Checkpoints, model, manifest);
    }

    /// <summary>Writes a model as an llm.c fp32 model file, padding the vocabulary to a multiple of 128 with zero rows.</summary>
    public static void Save(Gpt model, string path)
    {
        var c = model.Config;
        if (!c.Bias) throw new ArgumentException("llm.c models have biases; this model was trained without them.");
        var h = new Header(c.BlockSize, c.VocabSize, c.NLayer, c.NHead, c.NEmbd, (c.VocabSize + 127) / 128 * 128);
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        string temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            var header = new byte[HeaderBytes];
            int[] values = [Magic, VersionFp32, h.MaxT, h.V, h.L, h.NH, h.C, h.Vp];
            for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(i * 4), values[i]);
            stream.Write(header);
            using var noGrad = no_grad();
            foreach (var (name, perLayer, _) in Layout(h))
            {
                for (int layer = 0; layer < (perLayer ? h.L : 1); layer++)
                {
                    using var scope = NewDisposeScope();
                    var t = parameters[perLayer ? $"h.{layer}.{name}" : name].detach().cpu().contiguous();
                    if (name == "wte.weight" && h.Vp > h.V) t = cat([t, zeros(h.Vp - h.V, h.C)], 0).contiguous();
                    t.WriteBytesToStream(stream, 1 << 20);
                }
            }
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }
}
