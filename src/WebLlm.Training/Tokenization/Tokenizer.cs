namespace WebLlm.Training.Tokenization;

/// <summary>Maps text to token ids and back. Implementations are immutable and thread-safe.</summary>
public abstract class Tokenizer
{
    public abstract string Kind { get; }

    public abstract int VocabSize { get; }

    /// <summary>The document separator id (50256 for GPT-2); null when the tokenizer has none.</summary>
    public abstract int? EndOfText { get; }

    public abstract TokenizerSpec Spec { get; }

    public abstract int[] Encode(string text);

    public abstract string Decode(ReadOnlySpan<int> ids);

    /// <summary>Rebuilds the tokenizer a dataset or checkpoint was made with.</summary>
    /// <param name="gpt2Vocab">Required when <paramref name="spec"/> is gpt2.</param>
    public static Tokenizer Create(TokenizerSpec spec, Gpt2Vocab? gpt2Vocab = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Kind switch
        {
            TokenizerSpec.CharKind => new CharTokenizer(spec.Vocabulary
                ?? throw new ArgumentException("A char tokenizer spec needs its vocabulary.", nameof(spec))),
            TokenizerSpec.Gpt2Kind => new Gpt2Tokenizer(gpt2Vocab
                ?? throw new ArgumentException("A gpt2 tokenizer needs the GPT-2 vocabulary files (Gpt2Vocab).", nameof(gpt2Vocab))),
            TokenizerSpec.BpeKind => BpeTokenizer.FromSpec(spec),
            _ => throw new ArgumentException(
                $"Unknown tokenizer kind '{spec.Kind}'; expected '{TokenizerSpec.CharKind}', '{TokenizerSpec.Gpt2Kind}' or '{TokenizerSpec.BpeKind}'.", nameof(spec)),
        };
    }
}
