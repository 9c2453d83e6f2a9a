using System.Security.Cryptography;
using System.Text.Json;

namespace WebLlm.Cli.Tests;

public class CliTests
{
    private static readonly string[] Small = ["--preset", "tiny", "--n-layer", "2", "--n-embd", "64", "--block-size", "32",
        "--batch-size", "4", "--warmup", "2", "--eval-batches", "2", "--threads", "1", "--peak-flops", "1e11"];

    private static (string Dir, string Data) Prepared()
    {
        string dir = Webllm.TempDir();
        string corpus = Webllm.WriteCorpus(dir);
        var r = Webllm.Run(dir, "prepare", "--input", corpus, "--tokenizer", "char", "--out", "data");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("char tokenizer", r.Stdout);
        return (dir, Path.Combine(dir, "data"));
    }

    [Fact]
    public void Prepare_train_and_sample_end_to_end()
    {
        var (dir, data) = Prepared();
        Assert.True(File.Exists(Path.Combine(data, "train.bin")));

        var train = Webllm.Run(dir, ["train", "--data", data, "--out", "run", "--steps", "20", "--eval-every", "10",
            "--sample-every", "20", "--sample-tokens", "30", "--prompt", "All:", "--checkpoint-every", "10", .. Small]);
        Assert.True(train.ExitCode == 0, train.Stderr);
        var steps = train.Lines.Where(l => l.StartsWith("step ") && l.Contains("| loss")).ToList();
        Assert.Equal(20, steps.Count);
        Assert.StartsWith("step     1/20 | loss ", steps[0]);
        Assert.Contains("tok/s", steps[0]);
        Assert.Contains("MFU", steps[0]);
        Assert.Contains(train.Lines, l => l.StartsWith("step 10: val loss "));
        Assert.Contains(train.Lines, l => l.StartsWith("--- sample at step 20, prompt \"All:\""));
        Assert.True(Directory.Exists(Path.Combine(dir, "run", "checkpoints", "step_00000010")));
        Assert.True(Directory.Exists(Path.Combine(dir, "run", "checkpoints", "step_00000020")));

        var sample = Webllm.Run(dir, "sample", "--checkpoint", "run", "--prompt", "All:", "--max-tokens", "25", "--seed", "5");
        var again = Webllm.Run(dir, "sample", "--checkpoint", "run", "--prompt", "All:", "--max-tokens", "25", "--seed", "5");
        Assert.True(sample.ExitCode == 0, sample.Stderr);
        Assert.StartsWith("All:", sample.Stdout);
        Assert.True(sample.Stdout.Trim().Length > "All:".Length + 10);
        Assert.Equal(sample.Stdout, again.Stdout);
        Assert.Contains("step 20", sample.Stderr);
    }

    [Fact]
    public void Resuming_in_a_new_process_continues_bit_for_bit()
    {
        var (dir, data) = Prepared();
        string[] common = ["train", "--data", data, "--steps", "12", "--eval-every", "0", "--sample-every", "0", .. Small];

        var straight = Webllm.Run(dir, [.. common, "--out", "a", "--checkpoint-every", "0"]);
        Assert.True(straight.ExitCode == 0, straight.Stderr);

        var first = Webllm.Run(dir, [.. common, "--out", "b", "--checkpoint-every", "6"]);
        Assert.True(first.ExitCode == 0, first.Stderr);
        // Lose everything after step 6, as a crash would.
        Directory.Delete(Path.Combine(dir, "b", "checkpoints", "step_00000012"), recursive: true);
        var resumed = Webllm.Run(dir, "train", "--data", data, "--out", "b", "--resume");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Contains("resumed b at step 6", resumed.Stdout);

        Assert.Equal(LossColumns(straight)[6..], LossColumns(resumed));
        Assert.Equal(Hash(dir, "a"), Hash(dir, "b"));
    }

    private static List<string> LossColumns(Webllm.Result r) =>
        r.Lines.Where(l => l.StartsWith("step ") && l.Contains("| loss"))
            .Select(l => string.Join('|', l.Split('|')[..4])) // step, loss, lr, norm: not the timings
            .ToList();

    private static string Hash(string dir, string run) =>
        Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(dir, run, "checkpoints", "step_00000012", "model.safetensors"))));

    [Fact]
    public void Tokenize_gives_openai_ids_and_char_ids()
    {
        var (dir, data) = Prepared();
        var gpt2 = Webllm.Run(dir, "tokenize", "--tokenizer", "gpt2", "Hello, world!");
        Assert.True(gpt2.ExitCode == 0, gpt2.Stderr);
        Assert.Equal("15496 11 995 0", gpt2.Stdout.Trim());
        var chars = Webllm.Run(dir, "tokenize", "--tokenizer", "char", "--data", data, "All");
        Assert.Equal(3, chars.Stdout.Trim().Split(' ').Length);
    }

    [Fact]
    public void Prepare_trains_a_bpe_tokenizer_and_tokenize_reads_it_from_the_dataset()
    {
        string dir = Webllm.TempDir();
        File.WriteAllText(Path.Combine(dir, "book.txt"), string.Concat(Enumerable.Repeat("Hello, world! 안녕하세요 세계. ", 300)));
        var prepare = Webllm.Run(dir, "prepare", "--input", "book.txt", "--tokenizer", "bpe", "--vocab-size", "320", "--split", "gpt4", "--out", "data");
        Assert.True(prepare.ExitCode == 0, prepare.Stderr);
        // At most 320: a text this repetitive runs out of pairs to merge first (every piece is then one token).
        int vocabulary = int.Parse(System.Text.RegularExpressions.Regex.Match(prepare.Stdout, @"bpe tokenizer, vocabulary (\d+)").Groups[1].Value);
        Assert.InRange(vocabulary, 270, 320);
        var ids = Webllm.Run(dir, "tokenize", "--tokenizer", "data", "Hello, world! 안녕하세요");
        Assert.True(ids.ExitCode == 0, ids.Stderr);
        var parsed = ids.Stdout.Trim().Split(' ').Select(int.Parse).ToArray();
        Assert.True(parsed.Length < 8, ids.Stdout); // the Hangul words are a token or two once learnt, not 15 bytes
        Assert.All(parsed, id => Assert.InRange(id, 0, vocabulary - 1));
        var tooSmall = Webllm.Run(dir, "prepare", "--input", "book.txt", "--tokenizer", "bpe", "--vocab-size", "100", "--out", "small");
        Assert.Equal(2, tooSmall.ExitCode);
        Assert.Contains("between 257", tooSmall.Stderr);
    }

    [Theory]
    [InlineData("train", "--data", "data", "--out", "bad", "--n-head", "3")]
    [InlineData("train", "--data", "data", "--out", "bad", "--steps", "abc")]
    [InlineData("train", "--data", "data", "--out", "bad", "--lr", "-1")]
    [InlineData("train", "--data", "data", "--out", "bad", "--preset", "gpt5")]
    [InlineData("train", "--data", "missing", "--out", "bad")]
    [InlineData("train", "--out", "bad")]
    [InlineData("sample", "--checkpoint", "bad", "--temperature", "-1")]
    [InlineData("prepare", "--input", "missing.txt", "--out", "bad")]
    [InlineData("bench", "--steps", "0")]
    [InlineData("nonsense")]
    public void Bad_arguments_give_one_line_and_exit_code_2_and_write_nothing(params string[] args)
    {
        var (dir, _) = Prepared();
        var before = Tree(dir);
        var r = Webllm.Run(dir, args);
        Assert.Equal(2, r.ExitCode);
        Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("webllm: ", r.Stderr);
        // Nothing anywhere in the working folder was created, changed or removed (not only the --out folder).
        Assert.Equal(before, Tree(dir));
    }

    /// <summary>Every file and folder below <paramref name="dir"/>, with each file's size and last write time.</summary>
    private static List<string> Tree(string dir) =>
        [.. Directory.GetFileSystemEntries(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(p => File.Exists(p) ? $"{p} {new FileInfo(p).Length} {File.GetLastWriteTimeUtc(p).Ticks}" : p + "/")];

    [Fact]
    public void Invalid_utf8_input_names_the_file_and_offset()
    {
        string dir = Webllm.TempDir();
        File.WriteAllBytes(Path.Combine(dir, "bad.txt"), [.. "hello "u8, 0xC3, 0x28, .. " world"u8]);
        var r = Webllm.Run(dir, "prepare", "--input", "bad.txt", "--out", "data");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("bad.txt is not valid UTF-8: byte 0xC3 at offset 6 ", r.Stderr); // "hello " is 6 bytes
        Assert.Equal(["bad.txt"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName));
    }

    [Fact]
    public void Bench_prints_a_json_summary_with_the_ceiling()
    {
        string dir = Webllm.TempDir();
        var r = Webllm.Run(dir, "bench", "--preset", "tiny", "--batch-size", "2", "--block-size", "32", "--steps", "3",
            "--warmup-steps", "1", "--threads", "1", "--ceiling-seconds", "0.3");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var json = JsonDocument.Parse(r.Lines[^1]);
        var root = json.RootElement;
        Assert.Equal("tiny", root.GetProperty("preset").GetString());
        Assert.True(root.GetProperty("ceilingGflops").GetDouble() > 1);
        Assert.True(root.GetProperty("msPerStep").GetDouble() > 0);
        double fraction = root.GetProperty("fraction").GetDouble();
        Assert.InRange(fraction, 1e-4, 1.5);
        Assert.Equal(root.GetProperty("achievedGflops").GetDouble() / root.GetProperty("ceilingGflops").GetDouble(), fraction, 6);
        // Measured before and after the steps; the fraction is against the higher of the two.
        var ceilings = r.Lines.Where(l => l.StartsWith("ceiling: ", StringComparison.Ordinal))
            .Select(l => double.Parse(l.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(2, ceilings.Count);
        Assert.Equal(ceilings.Max(), root.GetProperty("ceilingGflops").GetDouble(), 0.051);
    }

    [Fact]
    public void Export_and_import_round_trips_through_llmc_and_hugging_face_and_fine_tunes()
    {
        var (dir, data) = Prepared();
        var train = Webllm.Run(dir, ["train", "--data", data, "--out", "run", "--steps", "4", "--eval-every", "0", "--sample-every", "0", .. Small]);
        Assert.True(train.ExitCode == 0, train.Stderr);
        string[] sample = ["sample", "--prompt", "All:", "--max-tokens", "20", "--seed", "2", "--checkpoint"];
        string original = Webllm.Run(dir, [.. sample, "run"]).Stdout;

        Assert.Equal(0, Webllm.Run(dir, "export", "--checkpoint", "run", "--to", "llmc", "--out", "model.bin").ExitCode);
        var imported = Webllm.Run(dir, "import", "--from", "llmc", "--input", "model.bin", "--out", "from-llmc", "--data", data);
        Assert.True(imported.ExitCode == 0, imported.Stderr);
        Assert.Equal(original, Webllm.Run(dir, [.. sample, "from-llmc"]).Stdout);

        Assert.Equal(0, Webllm.Run(dir, "export", "--checkpoint", "run", "--to", "hf", "--out", "hf").ExitCode);
        Assert.True(File.Exists(Path.Combine(dir, "hf", "config.json")));
        Assert.Equal(0, Webllm.Run(dir, "import", "--from", "hf", "--input", "hf", "--out", "from-hf", "--data", data).ExitCode);
        Assert.Equal(original, Webllm.Run(dir, [.. sample, "from-hf"]).Stdout);

        var tuned = Webllm.Run(dir, "train", "--data", data, "--init-from", "from-hf", "--out", "tuned", "--steps", "2",
            "--eval-every", "0", "--sample-every", "0", "--threads", "1", "--peak-flops", "1e11", "--batch-size", "2", "--block-size", "16");
        Assert.True(tuned.ExitCode == 0, tuned.Stderr);
        Assert.Contains("model: ", tuned.Stdout);

        var bad = Webllm.Run(dir, "import", "--from", "llmc", "--input", "corpus.txt", "--out", "nope");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("corpus.txt", bad.Stderr);
        Assert.False(Directory.Exists(Path.Combine(dir, "nope", "checkpoints", "step_00000000")));
    }

    [Fact]
    public void Inference_bench_reports_decode_speed_against_the_bandwidth_ceiling()
    {
        var r = Webllm.Run(Webllm.TempDir(), "bench", "--inference", "--presets", "tiny", "--tokens", "8", "--recompute-tokens", "20", "--streams", "1", "2");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var json = JsonDocument.Parse(r.Lines[^1]);
        var root = json.RootElement;
        Assert.Equal("tiny", root.GetProperty("preset").GetString());
        double ceiling = root.GetProperty("bandwidthGBps").GetDouble() * 1e9 / (root.GetProperty("parameters").GetInt64() * 4.0);
        Assert.Equal(ceiling, root.GetProperty("ceilingTokensPerSecond").GetDouble(), 3);
        Assert.True(root.GetProperty("decodeTokensPerSecond").GetDouble() > 0);
        Assert.True(root.GetProperty("recomputeSpeedup").GetDouble() > 0);
        Assert.Equal(2, root.GetProperty("concurrentTokensPerSecond").EnumerateObject().Count());
    }
}
