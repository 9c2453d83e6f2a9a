// TEMPORARY stand-in until the tokenization branch lands; replaced by it on merge.
namespace WebLlm.Training.Tokenization;

public sealed record TokenizerSpec(string Kind, string? Vocabulary);

public abstract class Tokenizer
{
    public abstract string Kind { get; }
    public abstract int VocabSize { get; }
    public abstract int? EndOfText { get; }
    public abstract int[] Encode(string text);
    public abstract string Decode(ReadOnlySpan<int> ids);
    public abstract TokenizerSpec Spec { get; }
}

public sealed class CharTokenizer : Tokenizer
{
    private readonly string vocab;
    private readonly Dictionary<char, int> ids;
    public CharTokenizer(string vocabulary) { vocab = vocabulary; ids = vocab.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i); }
    public static CharTokenizer FromCorpus(string text) => new(new string(text.Distinct().Order().ToArray()));
    public override string Kind => "char";
    public override int VocabSize => vocab.Length;
    public override int? EndOfText => null;
    public override TokenizerSpec Spec => new("char", vocab);
    public override int[] Encode(string text) => text.Select(c => ids[c]).ToArray();
    public override string Decode(ReadOnlySpan<int> tokens) { var sb = new System.Text.StringBuilder(); foreach (var t in tokens) sb.Append(vocab[t]); return sb.ToString(); }
}
