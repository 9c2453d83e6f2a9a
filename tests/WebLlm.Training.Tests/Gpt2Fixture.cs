using WebLlm.Training.Tokenization;

namespace WebLlm.Training.Tests;

/// <summary>One verified vocabulary and tokenizer per test class, from the user cache (downloaded once).</summary>
public sealed class Gpt2Fixture
{
    public Gpt2Fixture()
    {
        Vocab = Gpt2Vocab.Load();
        Tokenizer = new Gpt2Tokenizer(Vocab);
    }

    public Gpt2Vocab Vocab { get; }

    public Gpt2Tokenizer Tokenizer { get; }
}
