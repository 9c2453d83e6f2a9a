using WebLlm.Training.Model;
using WebLlm.Training.Tokenization;
using WebLlm.Training.Loop;
using static TorchSharp.torch;

namespace WebLlm.Training.Tests;

/// <summary>Small models and corpora that train in milliseconds on a CPU.</summary>
internal static class TestData
{
    public const string Corpus = """
        First Citizen:
        Before we proceed any further, hear me speak.

        All:
        Speak, speak.

        First Citizen:
        You are all resolved rather to die than to famish?

        All:
        Resolved. resolved.

        First Citizen:
        First, you know Caius Marcius is chief enemy to the people.
        """;

    public static GptConfig Micro(int vocab = 65, int block = 16, bool bias = true, double dropout = 0) =>
        new() { NLayer = 2, NHead = 2, NEmbd = 32, BlockSize = block, VocabSize = vocab, Bias = bias, Dropout = dropout };

    public static TrainingData CharData()
    {
        var tokenizer = CharTokenizer.FromCorpus(Corpus);
        var ids = tokenizer.Encode(Corpus).Select(i => (ushort)i).ToArray();
        int split = ids.Length * 9 / 10;
        return new TrainingData(ids[..split], ids[split..], tokenizer);
    }

    public static TrainOptions Options(int steps = 10) => new()
    {
        MaxSteps = steps, BatchSize = 4, LearningRate = 1e-2, WarmupSteps = 2, EvalEvery = 0, SampleEvery = 0,
        CheckpointEvery = 0, EvalBatches = 2, Threads = 1, Device = "cpu", PeakFlops = 1e11, Seed = 42,
    };

    /// <summary>One root per test process, removed when the process exits, so runs do not pile up folders in /tmp.</summary>
    private static readonly string TempRoot = CreateTempRoot();

    private static string CreateTempRoot()
    {
        string root = Path.Combine(Path.GetTempPath(), "webllm-tests", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return root;
    }

    public static string TempDir()
    {
        string dir = Path.Combine(TempRoot, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static Tensor Tokens(params long[] ids) => tensor(ids, [1, ids.Length]);
}
