using System.Text;
using System.Text.RegularExpressions;

namespace WebLlm.Training.Tokenization;

/// <summary>
/// Learns a byte-level BPE vocabulary from text: ids 0-255 are the bytes, each merge of the most frequent adjacent pair
/// adds the next id, special tokens come last. Pieces of the split pattern are counted once each (a corpus repeats its
/// words), and pair counts are updated only in the pieces a merge touches, instead of recounting the corpus per merge.
/// Ties go to the pair of lower ids, and nothing depends on hash order, so the same text and settings give the same
/// vocabulary byte for byte. Written here because no tokenizer library served to this project trains byte-level BPE
/// (Microsoft.ML.Tokenizers only encodes; its old character-level BpeTrainer was removed).
/// </summary>
public static class BpeTrainer
{
    /// <param name="vocabSize">Bytes (256) + merges + special tokens.</param>
    /// <param name="progress">Called after each merge with (merges done, merges wanted).</param>
    public static ByteBpe Train(IEnumerable<string> texts, int vocabSize, string pattern, IReadOnlyList<string> specialTokens,
        Action<int, int>? progress = null, CancellationToken cancellationToken = default)
    {
        int wanted = vocabSize - 256 - specialTokens.Count;
        if (wanted < 0) throw new ArgumentException($"A vocabulary of {vocabSize} cannot hold the 256 bytes and {specialTokens.Count} special tokens.", nameof(vocabSize));

        // Each distinct piece once, with how often it occurs, in order of first appearance.
        var split = new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        var pieceIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        var lookup = pieceIndex.GetAlternateLookup<ReadOnlySpan<char>>();
        var words = new List<int[]>();
        var counts = new List<long>();
        foreach (var text in texts)
        {
            foreach (var m in split.EnumerateMatches(text))
            {
                var piece = text.AsSpan(m.Index, m.Length);
                if (lookup.TryGetValue(piece, out int w))
                {
                    counts[w]++;
                    continue;
                }
                lookup[piece] = words.Count;
                words.Add([.. Encoding.UTF8.GetBytes(piece.ToArray()).Select(b => (int)b)]);
                counts.Add(1);
            }
        }

        var pairs = new Dictionary<long, long>();
        var where = new Dictionary<long, HashSet<int>>();
        for (int w = 0; w < words.Count; w++) AddPairs(w, +1);

        // Highest count first, then lower ids; entries whose count has changed since are skipped when they come up.
        var heap = new PriorityQueue<long, (long NegCount, long Pair)>();
        foreach (var (pair, count) in pairs) heap.Enqueue(pair, (-count, pair));

        var vocabulary = new List<byte[]>(256 + wanted);
        for (int b = 0; b < 256; b++) vocabulary.Add([(byte)b]);
        var changed = new HashSet<long>();
        while (vocabulary.Count < 256 + wanted && heap.TryDequeue(out long best, out var key))
        {
            if (!pairs.TryGetValue(best, out long current) || current != -key.NegCount || current <= 0) continue;
            cancellationToken.ThrowIfCancellationRequested();
            int a = (int)(best >> 32), b2 = (int)(best & 0xFFFFFFFF), merged = vocabulary.Count;
            vocabulary.Add([.. vocabulary[a], .. vocabulary[b2]]);
            foreach (int w in where[best].Order().ToArray())
            {
                AddPairs(w, -1, changed);
                words[w] = Merge(words[w], a, b2, merged);
                AddPairs(w, +1, changed);
            }
            where.Remove(best);
            foreach (long pair in changed)
            {
                if (pairs.TryGetValue(pair, out long c) && c > 0) heap.Enqueue(pair, (-c, pair));
            }
            changed.Clear();
            progress?.Invoke(vocabulary.Count - 256, wanted);
        }
        return new ByteBpe(vocabulary, pattern, specialTokens);

        void AddPairs(int w, int sign, HashSet<long>? touched = null)
        {
            var word = words[w];
            long by = sign * counts[w];
            for (int i = 0; i + 1 < word.Length; i++)
            {
                long pair = (long)word[i] << 32 | (uint)word[i + 1];
                long now = pairs.GetValueOrDefault(pair) + by;
                if (now == 0) pairs.Remove(pair);
                else pairs[pair] = now;
                if (sign > 0)
                {
                    if (!where.TryGetValue(pair, out var set)) where[pair] = set = [];
                    set.Add(w);
                }
                touched?.Add(pair);
            }
        }
    }

    private static int[] Merge(int[] word, int a, int b, int merged)
    {
        var result = new List<int>(word.Length);
        for (int i = 0; i < word.Length; i++)
        {
            if (i + 1 < word.Length && word[i] == a && word[i + 1] == b)
            {
                result.Add(merged);
                i++;
            }
            else
            {
                result.Add(word[i]);
            }
        }
        return [.. result];
    }
}
