using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace WebLlm.Training.Tokenization;

/// <summary>
/// A byte-level BPE trained on the user's own text (<see cref="BpeTrainer"/>), as a <see cref="Tokenizer"/>: its ranks
/// travel in the <see cref="TokenizerSpec"/> (tiktoken's format), so a dataset's meta.json and every checkpoint carry it.
/// </summary>
public sealed class BpeTokenizer : Tokenizer
{
    /// <summary>The file a prepared dataset holds its ranks in (tiktoken's format: "base64(bytes) rank" a line).</summary>
    public const string FileName = "tokenizer.tiktoken";
    public const string EndOfTextText = "<|endoftext|>";
    /// <summary>Optional chat turn markers, for fine-tuning on conversations.</summary>
    public static readonly string[] ChatTokens = ["<|system|>", "<|user|>", "<|assistant|>"];

    private readonly ByteBpe bpe;

    public BpeTokenizer(ByteBpe bpe)
    {
        this.bpe = bpe;
        string ranks = ToTiktoken(bpe.Vocabulary);
        Spec = new TokenizerSpec(TokenizerSpec.BpeKind, ranks, bpe.Pattern, [.. bpe.SpecialTokens],
            Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ranks))));
    }

    public ByteBpe Bpe => bpe;

    public override string Kind => TokenizerSpec.BpeKind;

    public override int VocabSize => bpe.VocabSize;

    public override int? EndOfText => bpe.SpecialId(EndOfTextText);

    public override TokenizerSpec Spec { get; }

    public override int[] Encode(string text) => bpe.Encode(text);

    public override string Decode(ReadOnlySpan<int> ids) => bpe.Decode(ids);

    public static BpeTokenizer FromSpec(TokenizerSpec spec)
    {
        if (spec.Vocabulary is null || spec.Pattern is null)
            throw new ArgumentException("A bpe tokenizer spec needs its ranks (vocabulary) and split pattern.", nameof(spec));
        if (spec.Sha256 is { } sha && sha != Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(spec.Vocabulary))))
            throw new InvalidDataException("The bpe tokenizer's ranks do not match their recorded SHA-256.");
        return new BpeTokenizer(new ByteBpe(FromTiktoken(spec.Vocabulary), spec.Pattern, spec.SpecialTokens ?? []));
    }

    /// <summary>tiktoken's rank file: "base64(bytes) rank" a line, ranks 0…n-1 in order (GPT-2's vocabulary is given to tiktoken so too).</summary>
    public static string ToTiktoken(IReadOnlyList<byte[]> ranks)
    {
        var text = new StringBuilder(ranks.Count * 12);
        for (int id = 0; id < ranks.Count; id++)
            text.Append(Convert.ToBase64String(ranks[id])).Append(' ').Append(id.ToString(CultureInfo.InvariantCulture)).Append('\n');
        return text.ToString();
    }

    public static List<byte[]> FromTiktoken(string text)
    {
        var tokens = new List<byte[]>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ');
            if (parts.Length != 2 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int rank) || rank != tokens.Count)
                throw new InvalidDataException($"Line {tokens.Count + 1} of the bpe ranks is not \"base64 {tokens.Count}\".");
            tokens.Add(Convert.FromBase64String(parts[0]));
        }
        return tokens;
    }
}
