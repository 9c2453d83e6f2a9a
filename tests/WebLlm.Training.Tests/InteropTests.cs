using System.Buffers.Binary;
using WebLlm.Training.Checkpoints;
using WebLlm.Training.Interop;
using WebLlm.Training.Model;
using WebLlm.Training.Tokenization;
using static TorchSharp.torch;

namespace WebLlm.Training.Tests;

public class InteropTests
{
    private static readonly TokenizerSpec CharSpec = new(TokenizerSpec.CharKind, new string(Enumerable.Range(0, 50).Select(i => (char)('0' + i)).ToArray()));

    private static Gpt RandomModel(int vocab = 50, long seed = 9)
    {
        var config = new GptConfig { NLayer = 2, NHead = 2, NEmbd = 16, BlockSize = 12, VocabSize = vocab };
        var model = new Gpt(config, seed);
        // Non-zero biases and gains, so a wrong mapping of any tensor shows in the logits.
        using var noGrad = no_grad();
        using var g = new TorchSharp.torch.Generator((ulong)seed + 1);
        foreach (var (_, p) in model.named_parameters())
            p.add_(randn(p.shape, generator: g).mul_(0.1));
        model.eval();
        return model;
    }

    private static string SaveAsCheckpoint(Gpt model, string dir) =>
        Checkpoint.Save(Path.Combine(dir, "checkpoints"), model, new CheckpointManifest { Step = 3, Model = model.Config, Tokenizer = CharSpec }).Directory;

    private static Tensor Logits(Gpt model, long[] ids)
    {
        model.eval();
        using var noGrad = no_grad();
        return model.forward(tensor(ids, [1, ids.Length]));
    }

    [Fact]
    public void Hugging_face_export_then_import_gives_identical_logits()
    {
        string dir = TestData.TempDir();
        using var model = RandomModel();
        string checkpoint = SaveAsCheckpoint(model, dir);
        HuggingFaceGpt2.Export(checkpoint, Path.Combine(dir, "hf"));
        var imported = HuggingFaceGpt2.Import(Path.Combine(dir, "hf"), Path.Combine(dir, "imported"), CharSpec);
        Assert.Equal(0, imported.Step);
        var (loaded, manifest) = Checkpoint.LoadModel(imported.Directory);
        using var _ = loaded;
        Assert.StartsWith("huggingface:", manifest.Source);
        long[] ids = [1, 7, 3, 49, 0, 12];
        Assert.True(Logits(model, ids).equal(Logits(loaded, ids)).all().item<bool>());
    }

    [Fact]
    public void An_independent_reference_forward_pass_over_the_hugging_face_file_gives_the_same_logits()
    {
        string dir = TestData.TempDir();
        using var model = RandomModel();
        HuggingFaceGpt2.Export(SaveAsCheckpoint(model, dir), Path.Combine(dir, "hf"));
        var (tensors, _) = SafeTensors.Read(Path.Combine(dir, "hf", Checkpoint.ModelFile));
        var w = tensors.ToDictionary(kv => kv.Key.Replace("transformer.", ""), kv => (kv.Value.shape, kv.Value.data<float>().ToArray()));
        var config = HuggingFaceGpt2.ReadConfig(Path.Combine(dir, "hf", Checkpoint.HfConfigFile));

        int[] ids = [4, 8, 15, 16, 23, 42, 0, 1];
        var expected = ReferenceGpt2.Forward(w, config, ids);
        var (imported, _) = Checkpoint.LoadModel(HuggingFaceGpt2.Import(Path.Combine(dir, "hf"), Path.Combine(dir, "run"), CharSpec).Directory);
        using var __ = imported;
        var actual = Logits(imported, ids.Select(i => (long)i).ToArray())[0].data<float>().ToArray();
        Assert.Equal(expected.Length, actual.Length);
        double maxDiff = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(maxDiff < 1e-4, $"max logit difference {maxDiff}");
        foreach (var t in tensors.Values) t.Dispose();
    }

    [Fact]
    public void Llmc_save_then_load_gives_identical_logits_and_pads_the_vocabulary()
    {
        string dir = TestData.TempDir();
        using var model = RandomModel(vocab: 50);
        string file = Path.Combine(dir, "model.bin");
        LlmCModel.Save(model, file);
        var header = LlmCModel.ReadHeader(file);
        Assert.Equal(new LlmCModel.Header(12, 50, 2, 2, 16, 128), header);
        Assert.Equal(1024 + 4 * (model.Config.ParameterCount + (128 - 50) * 16), new FileInfo(file).Length);
        using var loaded = LlmCModel.Load(file);
        long[] ids = [3, 1, 4, 1, 5, 9, 2, 6];
        Assert.True(Logits(model, ids).equal(Logits(loaded, ids)).all().item<bool>());

        var imported = LlmCModel.Import(file, Path.Combine(dir, "run"), CharSpec);
        Assert.StartsWith("llmc:", Checkpoint.ReadManifest(imported.Directory).Source);
    }

    [Fact]
    public void Malformed_llmc_files_are_rejected_before_anything_is_allocated()
    {
        string dir = TestData.TempDir();
        using var model = RandomModel();
        string good = Path.Combine(dir, "good.bin");
        LlmCModel.Save(model, good);
        byte[] bytes = File.ReadAllBytes(good);

        void Expect(string name, byte[] content, string message)
        {
            string path = Path.Combine(dir, name);
            File.WriteAllBytes(path, content);
            var e = Assert.Throws<InvalidDataException>(() => LlmCModel.Load(path));
            Assert.Contains(message, e.Message);
        }
        byte[] With(int index, int value)
        {
            var copy = (byte[])bytes.Clone();
            BinaryPrimitives.WriteInt32LittleEndian(copy.AsSpan(index * 4), value);
            return copy;
        }
        Expect("short.bin", bytes[..100], "too short");
        Expect("magic.bin", With(0, 1234), "magic");
        Expect("bf16.bin", With(1, 5), "version 5");
        Expect("truncated.bin", bytes[..^4], "truncated");
        Expect("layers.bin", With(4, 1_000_000), "implausible");
        Expect("heads.bin", With(5, 3), "channels 16 (heads 3)");
        Expect("huge.bin", With(6, 65536), "truncated"); // plausible header, but the file is far too small
        Expect("vocab.bin", With(7, 10), "padded vocabulary");
    }

    [Fact]
    public void Fuzzed_files_give_invalid_data_errors_and_nothing_else()
    {
        string dir = TestData.TempDir();
        using var model = RandomModel();
        string llmc = Path.Combine(dir, "m.bin");
        LlmCModel.Save(model, llmc);
        string checkpoint = SaveAsCheckpoint(model, dir);
        var inputs = new (string Path, Action<string> Load, int HeaderBytes)[]
        {
            (llmc, p => LlmCModel.Load(p).Dispose(), 40),
            (Path.Combine(checkpoint, Checkpoint.ModelFile), p => SafeTensors.Read(p).Tensors.Values.ToList().ForEach(t => t.Dispose()), 600),
        };
        var rng = new Random(1234);
        foreach (var (path, load, headerBytes) in inputs)
        {
            byte[] original = File.ReadAllBytes(path);
            string target = Path.Combine(dir, "fuzz-" + Path.GetFileName(path));
            for (int i = 0; i < 150; i++)
            {
                var bytes = (byte[])original.Clone();
                int flips = 1 + rng.Next(4);
                for (int f = 0; f < flips; f++) bytes[rng.Next(Math.Min(headerBytes, bytes.Length))] = (byte)rng.Next(256);
                if (rng.Next(5) == 0) bytes = bytes[..rng.Next(bytes.Length)];
                File.WriteAllBytes(target, bytes);
                try { load(target); }
                catch (InvalidDataException) { }
                catch (Exception e) { Assert.Fail($"fuzz case {i} of {Path.GetFileName(path)}: {e.GetType().Name}: {e.Message}"); }
            }
        }
    }

    [Fact]
    public void Hugging_face_configs_that_are_not_gpt2_are_rejected()
    {
        string dir = TestData.TempDir();
        string path = Path.Combine(dir, "config.json");
        File.WriteAllText(path, """{"model_type":"gpt2","n_layer":2,"n_head":2,"n_embd":16,"n_positions":8,"vocab_size":10,"activation_function":"relu"}""");
        Assert.Contains("activation_function", Assert.Throws<InvalidDataException>(() => HuggingFaceGpt2.ReadConfig(path)).Message);
        File.WriteAllText(path, """{"model_type":"llama"}""");
        Assert.Contains("llama", Assert.Throws<InvalidDataException>(() => HuggingFaceGpt2.ReadConfig(path)).Message);
        File.WriteAllText(path, """{"model_type":"gpt2","n_layer":"two"}""");
        Assert.Throws<InvalidDataException>(() => HuggingFaceGpt2.ReadConfig(path));
        File.WriteAllText(path, "not json");
        Assert.Throws<InvalidDataException>(() => HuggingFaceGpt2.ReadConfig(path));
    }
}

/// <summary>GPT-2's forward pass in plain arithmetic over arrays, from the Hugging Face tensors: no TorchSharp modules.</summary>
internal static class ReferenceGpt2
{
    public static float[] Forward(Dictionary<string, (long[] Shape, float[] Data)> w, GptConfig config, int[] ids)
    {
        int T = ids.Length, C = config.NEmbd, H = config.NHead, hs = C / H, V = config.VocabSize;
        var wte = w["wte.weight"].Data;
        var wpe = w["wpe.weight"].Data;
        var x = new double[T, C];
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++)
                x[t, c] = wte[ids[t] * C + c] + wpe[t * C + c];
        for (int l = 0; l < config.NLayer; l++)
        {
            string p = $"h.{l}.";
            var a = LayerNorm(x, w[p + "ln_1.weight"].Data, w[p + "ln_1.bias"].Data);
            var qkv = Conv1D(a, w[p + "attn.c_attn.weight"].Data, w[p + "attn.c_attn.bias"].Data, 3 * C);
            var y = new double[T, C];
            for (int h = 0; h < H; h++)
                for (int t = 0; t < T; t++)
                {
                    var scores = new double[t + 1];
                    for (int s = 0; s <= t; s++)
                    {
                        double dot = 0;
                        for (int i = 0; i < hs; i++) dot += qkv[t, h * hs + i] * qkv[s, C + h * hs + i];
                        scores[s] = dot / Math.Sqrt(hs);
                    }
                    double max = scores.Max(), sum = 0;
                    for (int s = 0; s <= t; s++) sum += scores[s] = Math.Exp(scores[s] - max);
                    for (int s = 0; s <= t; s++)
                        for (int i = 0; i < hs; i++)
                            y[t, h * hs + i] += scores[s] / sum * qkv[s, 2 * C + h * hs + i];
                }
            Add(x, Conv1D(y, w[p + "attn.c_proj.weight"].Data, w[p + "attn.c_proj.bias"].Data, C));
            var m = Conv1D(LayerNorm(x, w[p + "ln_2.weight"].Data, w[p + "ln_2.bias"].Data), w[p + "mlp.c_fc.weight"].Data, w[p + "mlp.c_fc.bias"].Data, 4 * C);
            for (int t = 0; t < T; t++)
                for (int j = 0; j < 4 * C; j++)
                {
                    double v = m[t, j];
                    m[t, j] = 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
                }
            Add(x, Conv1D(m, w[p + "mlp.c_proj.weight"].Data, w[p + "mlp.c_proj.bias"].Data, C));
        }
        var f = LayerNorm(x, w["ln_f.weight"].Data, w["ln_f.bias"].Data);
        var logits = new float[T * V];
        for (int t = 0; t < T; t++)
            for (int v = 0; v < V; v++)
            {
                double dot = 0;
                for (int c = 0; c < C; c++) dot += f[t, c] * wte[v * C + c];
                logits[t * V + v] = (float)dot;
            }
        return logits;
    }

    private static double[,] LayerNorm(double[,] x, float[] gain, float[] bias)
    {
        int T = x.GetLength(0), C = x.GetLength(1);
        var y = new double[T, C];
        for (int t = 0; t < T; t++)
        {
            double mean = 0, var = 0;
            for (int c = 0; c < C; c++) mean += x[t, c];
            mean /= C;
            for (int c = 0; c < C; c++) var += (x[t, c] - mean) * (x[t, c] - mean);
            var /= C;
            for (int c = 0; c < C; c++) y[t, c] = (x[t, c] - mean) / Math.Sqrt(var + 1e-5) * gain[c] + bias[c];
        }
        return y;
    }

    /// <summary>Hugging Face's Conv1D: weight [in, out], y = x·W + b.</summary>
    private static double[,] Conv1D(double[,] x, float[] weight, float[] bias, int outputs)
    {
        int T = x.GetLength(0), inputs = x.GetLength(1);
        var y = new double[T, outputs];
        for (int t = 0; t < T; t++)
            for (int o = 0; o < outputs; o++)
            {
                double sum = bias[o];
                for (int i = 0; i < inputs; i++) sum += x[t, i] * weight[i * outputs + o];
                y[t, o] = sum;
            }
        return y;
    }

    private static void Add(double[,] x, double[,] y)
    {
        for (int t = 0; t < x.GetLength(0); t++)
            for (int c = 0; c < x.GetLength(1); c++)
                x[t, c] += y[t, c];
    }
}
