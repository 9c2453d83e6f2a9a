namespace WebLlm.Training.Tokenization;

/// <summary>Neither a configured folder, the cache nor a download produced verified GPT-2 vocabulary files.</summary>
public sealed class Gpt2VocabUnavailableException : Exception
{
    public Gpt2VocabUnavailableException(string message)
        : base(message)
    {
    }

    public Gpt2VocabUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public Gpt2VocabUnavailableException()
    {
    }
}
