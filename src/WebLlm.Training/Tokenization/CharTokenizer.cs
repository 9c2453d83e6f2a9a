using System.Collections.Frozen;
using System.Text;

namespace WebLlm.Training.Tokenization;

/// <summary>
/// nanoGPT's shakespeare_char tokenizer: one id per distinct UTF-16 char of the corpus, in ordinal order.
/// Working on chars (not runes) keeps ids aligned with string indices; a surrogate pair is two tokens.
/// </summary>
public sealed class CharTokenizer : Tokenizer
{
    private readonly string _vocabulary;
    private readonly FrozenDictionary<char, int> _ids;

    public CharTokenizer(string vocabulary)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        if (vocabulary.Length == 0)
        {
            throw new ArgumentException("A char vocabulary needs at least one character.", nameof(vocabulary));
        }

        var ids = new Dictionary<char, int>(vocabulary.Length);
        for (var i = 0; i < vocabulary.Length; i++)
        {
            if (!ids.TryAdd(vocabulary[i], i))
            {
                throw new ArgumentException($"The char vocabulary repeats {Describe(vocabulary[i])} at position {i}.", nameof(vocabulary));
            }
        }

        _vocabulary = vocabulary;
        _ids = ids.ToFrozenDictionary();
    }

    /// <summary>The vocabulary is the sorted distinct chars of <paramref name="text"/>.</summary>
    public static CharTokenizer FromCorpus(string text) => FromCorpus([text]);

    /// <summary>The vocabulary is the sorted distinct chars of all <paramref name="texts"/>.</summary>
    public static CharTokenizer FromCorpus(IEnumerable<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var distinct = new HashSet<char>();
        foreach (var text in texts)
        {
            distinct.UnionWith(text);
        }

        var chars = distinct.ToArray();
        Array.Sort(chars);
        return new CharTokenizer(new string(chars));
    }

    public override string Kind => TokenizerSpec.CharKind;

    public override int VocabSize => _vocabulary.Length;

    public override int? EndOfText => null;

    public override TokenizerSpec Spec => TokenizerSpec.Char(_vocabulary);

    public override int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new int[text.Length];
        for (var i = 0; i < text.Length; i++)
        {
            if (!_ids.TryGetValue(text[i], out ids[i]))
            {
                throw new ArgumentException(
                    $"{Describe(text[i])} at position {i} is not in this char tokenizer's vocabulary of {VocabSize} characters.",
                    nameof(text));
            }
        }

        return ids;
    }

    public override string Decode(ReadOnlySpan<int> ids)
    {
        var builder = new StringBuilder(ids.Length);
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)_vocabulary.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is outside the char vocabulary (size {VocabSize}).");
            }

            builder.Append(_vocabulary[id]);
        }

        return builder.ToString();
    }

    // Control and whitespace characters are invisible in a message, so name them by code point too.
    private static string Describe(char c) => char.IsControl(c) || char.IsWhiteSpace(c) || char.IsSurrogate(c)
        ? $"character U+{(int)c:X4}"
        : $"character '{c}' (U+{(int)c:X4})";
}
