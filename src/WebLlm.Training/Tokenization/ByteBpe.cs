using System.Text;
using System.Text.RegularExpressions;

namespace WebLlm.Training.Tokenization;

/// <summary>
/// Byte-level BPE as GPT-2 and tiktoken do it: text is cut into pieces by a split pattern, each piece's UTF-8 bytes start
/// as one token each, and adjacent tokens are merged while the merged bytes are in the vocabulary, the lowest rank (id)
/// first. Ids are ranks: every byte sequence's id is its place in <see cref="Vocabulary"/>, special tokens come after.
/// With GPT-2's ranks and split pattern this gives OpenAI's ids; with ranks from <see cref="BpeTrainer"/> it gives the
/// trained tokenizer's. Every text comes back byte for byte: pieces partition the text and every byte is a token.
/// </summary>
public sealed class ByteBpe
{
    /// <summary>GPT-2's pre-split pattern (encoder.py).</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>GPT-4's (cl100k_base), with its possessive quantifiers written as .NET's atomic groups.</summary>
    public const string Gpt4Pattern =
        @"'(?i:[sdmt]|ll|ve|re)|(?>[^\r\n\p{L}\p{N}]?)\p{L}+|\p{N}{1,3}| ?(?>[^\s\p{L}\p{N}]+)[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+";

    private readonly byte[][] vocabulary;
    // Byte sequences as Latin-1 strings (one char a byte): hashable keys, looked up by span without allocating.
    private readonly Dictionary<string, int> ranks;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> rankOf;
    private readonly Regex split;
    private readonly Regex? specials;
    private readonly Dictionary<string, int> specialIds;

    /// <param name="vocabulary">Byte sequences in id order; the first 256 need not be single bytes, but every single byte must be present.</param>
    /// <param name="specialTokens">Special tokens, given ids after the vocabulary in this order; matched literally in text.</param>
    public ByteBpe(IReadOnlyList<byte[]> vocabulary, string pattern, IReadOnlyList<string> specialTokens)
    {
        this.vocabulary = [.. vocabulary];
        ranks = new Dictionary<string, int>(vocabulary.Count, StringComparer.Ordinal);
        for (int id = 0; id < vocabulary.Count; id++)
        {
            if (!ranks.TryAdd(Latin1(vocabulary[id]), id))
                throw new ArgumentException($"Token {id} repeats the bytes of token {ranks[Latin1(vocabulary[id])]}.", nameof(vocabulary));
        }
        for (int b = 0; b < 256; b++)
        {
            if (!ranks.ContainsKey(((char)b).ToString()))
                throw new ArgumentException($"The vocabulary lacks the single byte 0x{b:X2}: some text could not be encoded.", nameof(vocabulary));
        }
        rankOf = ranks.GetAlternateLookup<ReadOnlySpan<char>>();
        Pattern = pattern;
        split = new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        SpecialTokens = [.. specialTokens];
        specialIds = specialTokens.Select((s, i) => (s, i)).ToDictionary(x => x.s, x => vocabulary.Count + x.i, StringComparer.Ordinal);
        // Longest first, so a special token that starts with another is matched whole.
        specials = specialTokens.Count == 0 ? null
            : new Regex(string.Join('|', specialTokens.OrderByDescending(s => s.Length).Select(Regex.Escape)), RegexOptions.CultureInvariant);
    }

    public string Pattern { get; }

    public IReadOnlyList<string> SpecialTokens { get; }

    /// <summary>Byte sequences in id order (special tokens not included).</summary>
    public IReadOnlyList<byte[]> Vocabulary => vocabulary;

    public int VocabSize => vocabulary.Length + SpecialTokens.Count;

    public int? SpecialId(string token) => specialIds.TryGetValue(token, out int id) ? id : null;

    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 1);
        int at = 0;
        if (specials is not null)
        {
            foreach (Match m in specials.Matches(text))
            {
                EncodeOrdinary(text.AsSpan(at, m.Index - at), ids);
                ids.Add(specialIds[m.Value]);
                at = m.Index + m.Length;
            }
        }
        EncodeOrdinary(text.AsSpan(at), ids);
        return [.. ids];
    }

    /// <summary>The bytes of the tokens, as UTF-8 text (a sequence cut inside a character decodes to U+FFFD there).</summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new List<byte>(ids.Length * 4);
        var text = new StringBuilder();
        foreach (int id in ids)
        {
            if ((uint)id < (uint)vocabulary.Length)
            {
                bytes.AddRange(vocabulary[id]);
            }
            else if (id - vocabulary.Length is var s && (uint)s < (uint)SpecialTokens.Count)
            {
                Flush();
                text.Append(SpecialTokens[s]);
            }
            else
            {
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is outside the vocabulary (size {VocabSize}).");
            }
        }
        Flush();
        return text.ToString();

        void Flush()
        {
            text.Append(Encoding.UTF8.GetString(bytes.ToArray()));
            bytes.Clear();
        }
    }

    private void EncodeOrdinary(ReadOnlySpan<char> text, List<int> ids)
    {
        if (text.IsEmpty) return;
        int end = 0;
        foreach (var m in split.EnumerateMatches(text))
        {
            // The patterns match every character; a gap (a pattern that does not) is still encoded, never dropped.
            if (m.Index > end) EncodePiece(text[end..m.Index], ids);
            EncodePiece(text.Slice(m.Index, m.Length), ids);
            end = m.Index + m.Length;
        }
        if (end < text.Length) EncodePiece(text[end..], ids);
    }

    private void EncodePiece(ReadOnlySpan<char> piece, List<int> ids)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(piece.ToArray());
        Span<char> bytes = utf8.Length <= 256 ? stackalloc char[utf8.Length] : new char[utf8.Length];
        for (int i = 0; i < utf8.Length; i++) bytes[i] = (char)utf8[i];
        if (rankOf.TryGetValue(bytes, out int whole))
        {
            ids.Add(whole);
            return;
        }
        // starts[k] is where part k begins; merge the adjacent pair of lowest rank until none is in the vocabulary.
        var starts = new List<int>(bytes.Length + 1);
        for (int i = 0; i <= bytes.Length; i++) starts.Add(i);
        while (starts.Count > 2)
        {
            int best = -1, bestRank = int.MaxValue;
            for (int k = 0; k + 2 < starts.Count; k++)
            {
                if (rankOf.TryGetValue(bytes[starts[k]..starts[k + 2]], out int rank) && rank < bestRank)
                {
                    bestRank = rank;
                    best = k;
                }
            }
            if (best < 0) break;
            starts.RemoveAt(best + 1);
        }
        for (int k = 0; k + 1 < starts.Count; k++) ids.Add(rankOf[bytes[starts[k]..starts[k + 1]]]);
    }

    internal static string Latin1(ReadOnlySpan<byte> bytes) => string.Create(bytes.Length, bytes.ToArray(), static (chars, b) =>
    {
        for (int i = 0; i < b.Length; i++) chars[i] = (char)b[i];
    });
}
