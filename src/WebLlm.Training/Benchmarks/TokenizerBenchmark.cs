using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using WebLlm.Training.Data;
using WebLlm.Training.Tokenization;

namespace WebLlm.Training.Benchmarks;

/// <summary>One corpus's figures: training a vocabulary, then encoding the corpus with it.</summary>
public sealed record TokenizerBenchResult(
    string Corpus, double Megabytes, int VocabSize, double TrainSeconds, double TrainMegabytesPerSecond,
    double EncodeSeconds, double EncodeMegabytesPerSecond, double BytesPerToken,
    int BaselineMerges, double BaselineSeconds, double MergesSeconds, double BaselineSpeedup);

/// <summary>
/// <see cref="BpeTrainer"/> on the built-in corpus (~5 MB) and on a ~50 MB text made of it, next to the textbook
/// algorithm measured in the same run: a full recount of every piece's pairs before each merge (minbpe's, over distinct
/// pieces with their counts). The baseline learns only the first <c>baselineMerges</c> merges (all 8,192 would take
/// minutes); the trainer's time for the same merges is measured too, so the two are compared at equal work.
/// </summary>
public static class TokenizerBenchmark
{
    public static IReadOnlyList<TokenizerBenchResult> Run(int vocabSize, int baselineMerges, Action<string>? log = null)
    {
        var corpus = BuiltinCorpus.Locate();
        var documents = corpus.Files.SelectMany(f =>
        {
            using var s = File.OpenRead(f);
            return BuiltinCorpus.ReadDocuments(s).Select(d => d.Text).ToList();
        }).ToList();
        // ~50 MB: the corpus ten times over, each copy with its documents in another order (a single 50 MB file, as a user would give).
        var big = Enumerable.Range(0, 10).SelectMany(k => documents.Select((d, i) => (d, i)).OrderBy(x => (x.i * 7919 + k * 104729) % documents.Count).Select(x => x.d)).ToList();
        BpeTrainer.Train(documents.Take(500), 1024, ByteBpe.Gpt2Pattern, []); // warm-up: compiled regex, JIT
        NaiveTrain(documents.Take(500).ToList(), 10);
        return [Measure("built-in corpus", documents), Measure("built-in corpus x10", big)];

        TokenizerBenchResult Measure(string name, List<string> texts)
        {
            double megabytes = texts.Sum(t => (double)Encoding.UTF8.GetByteCount(t)) / 1e6;
            var clock = Stopwatch.StartNew();
            int reported = 0;
            var bpe = BpeTrainer.Train(texts, vocabSize, ByteBpe.Gpt2Pattern, [BpeTokenizer.EndOfTextText], (done, wanted) =>
            {
                if (done * 10 / wanted > reported) log?.Invoke($"  {name}: {done:N0}/{wanted:N0} merges, {clock.Elapsed.TotalSeconds:F1} s");
                reported = done * 10 / wanted;
            });
            double train = clock.Elapsed.TotalSeconds;
            clock.Restart();
            long tokens = 0;
            foreach (var t in texts) tokens += bpe.Encode(t).Length;
            double encode = clock.Elapsed.TotalSeconds;

            clock.Restart();
            BpeTrainer.Train(texts, 256 + baselineMerges + 1, ByteBpe.Gpt2Pattern, [BpeTokenizer.EndOfTextText]);
            double merges = clock.Elapsed.TotalSeconds;
            clock.Restart();
            NaiveTrain(texts, baselineMerges);
            double baseline = clock.Elapsed.TotalSeconds;
            var result = new TokenizerBenchResult(name, megabytes, bpe.VocabSize, train, megabytes / train, encode, megabytes / encode,
                megabytes * 1e6 / tokens, baselineMerges, baseline, merges, baseline / merges);
            log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"{name}: {megabytes:F1} MB, vocabulary {bpe.VocabSize:N0} learnt in {train:F1} s ({megabytes / train:F2} MB/s); encoded in {encode:F1} s " +
                $"({megabytes / encode:F2} MB/s, {result.BytesPerToken:F2} bytes/token); first {baselineMerges} merges: {merges:F2} s against " +
                $"{baseline:F1} s recounting before each merge ({result.BaselineSpeedup:F0}x)"));
            return result;
        }
    }

    /// <summary>The textbook algorithm: count every pair of every distinct piece (times its count), merge the best, repeat.</summary>
    private static void NaiveTrain(List<string> texts, int merges)
    {
        var split = new Regex(ByteBpe.Gpt2Pattern, RegexOptions.Compiled);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var t in texts)
            foreach (var m in split.EnumerateMatches(t))
                counts[t.Substring(m.Index, m.Length)] = counts.GetValueOrDefault(t.Substring(m.Index, m.Length)) + 1;
        var words = counts.Select(kv => (Ids: Encoding.UTF8.GetBytes(kv.Key).Select(b => (int)b).ToList(), Count: kv.Value)).ToList();
        int next = 256;
        for (int k = 0; k < merges; k++)
        {
            var pairs = new Dictionary<(int, int), long>();
            foreach (var (ids, count) in words)
                for (int i = 0; i + 1 < ids.Count; i++) pairs[(ids[i], ids[i + 1])] = pairs.GetValueOrDefault((ids[i], ids[i + 1])) + count;
            if (pairs.Count == 0) return;
            var best = pairs.MaxBy(p => (p.Value, -p.Key.Item1, -p.Key.Item2)).Key;
            foreach (var (ids, _) in words)
                for (int i = 0; i + 1 < ids.Count; i++)
                    if (ids[i] == best.Item1 && ids[i + 1] == best.Item2) { ids[i] = next; ids.RemoveAt(i + 1); }
            next++;
        }
    }
}
