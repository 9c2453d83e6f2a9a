using WebLlm.Training.Tokenization;

namespace WebLlm.Training.Data;

/// <summary>What <see cref="DataPreparer.Prepare"/> should turn into a dataset folder.</summary>
/// <param name="Source">A text file, a folder of .txt files (recursive) or <see cref="DataPreparer.BuiltinSource"/>.</param>
/// <param name="OutputDirectory">The dataset folder to create.</param>
/// <param name="Tokenizer"><see cref="TokenizerSpec.CharKind"/> or <see cref="TokenizerSpec.Gpt2Kind"/>.</param>
public sealed record DataPrepRequest(string Source, string OutputDirectory, string Tokenizer)
{
    /// <summary>Required for the gpt2 tokenizer.</summary>
    public Gpt2Vocab? Gpt2Vocab { get; init; }

    /// <summary>The share of tokens, taken from the end, that goes to val.bin (nanoGPT: 0.1).</summary>
    public double ValFraction { get; init; } = 0.1;

    /// <summary>Stop after this many documents (files, or built-in corpus members); null for all.</summary>
    public int? MaxDocuments { get; init; }

    /// <summary>Replace an existing dataset folder instead of refusing.</summary>
    public bool Overwrite { get; init; }

    /// <summary>For bpe: the vocabulary to train, 256 bytes + merges + special tokens (at most 65,536: tokens are stored as uint16).</summary>
    public int VocabSize { get; init; } = 4096;

    /// <summary>For bpe: the split pattern, "gpt2" or "gpt4" (<see cref="Tokenization.ByteBpe.Gpt2Pattern"/>, <see cref="Tokenization.ByteBpe.Gpt4Pattern"/>).</summary>
    public string Split { get; init; } = "gpt2";

    /// <summary>For bpe: add &lt;|system|&gt;, &lt;|user|&gt; and &lt;|assistant|&gt; after &lt;|endoftext|&gt;.</summary>
    public bool ChatTokens { get; init; }
}
