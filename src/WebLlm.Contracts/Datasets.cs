using System.Text.Json.Serialization;

namespace WebLlm.Contracts;

[JsonConverter(typeof(JsonStringEnumConverter<DatasetStatus>))]
public enum DatasetStatus { Preparing, Ready, Failed }

public sealed record DatasetDto
{
    public required int Id { get; init; }
    public required string Name { get; init; }
    /// <summary>"builtin" or a description of the uploaded files.</summary>
    public required string Source { get; init; }
    public const int DefaultBpeVocabSize = 4096;
    public const int MinBpeVocabSize = 260;
    /// <summary>Tokens are stored as uint16 (llm.c's shard layout).</summary>
    public const int MaxBpeVocabSize = 65_536;

    /// <summary>"char", "gpt2" or "bpe" (a byte-level BPE trained on this dataset's training text).</summary>
    public required string Tokenizer { get; init; }
    public required DatasetStatus Status { get; init; }
    public string? Error { get; init; }
    public int? VocabSize { get; init; }
    public long? TrainTokens { get; init; }
    public long? ValTokens { get; init; }
    public long SourceBytes { get; init; }
    /// <summary>UTF-8 bytes of the validation text per token: the tokenizer's compression on text it was not learnt from.</summary>
    public double? ValBytesPerToken { get; init; }
    /// <summary>0…1 while preparing.</summary>
    public double? Progress { get; init; }
    public required DateTime CreatedUtc { get; init; }
}

/// <summary>The first lines of a dataset's text and how a sample of it tokenizes.</summary>
public sealed record DatasetPreviewDto(int Id, IReadOnlyList<string> Lines, IReadOnlyList<TokenPreviewDto> Tokens);

public sealed record TokenPreviewDto(int Id, string Text);

/// <summary>Text to show split by every tokenizer the server has (the tokenizer inspector).</summary>
public sealed record TokenizeRequest
{
    public const int MaxLength = 20_000;
    public string Text { get; init; } = "";
}

/// <summary>
/// One tokenizer's view of a text: its tokens in order (id and the text of each), and for a trained bpe its first merges
/// (the pairs it found most frequent). <paramref name="DatasetId"/> is the dataset whose tokenizer this is; null for gpt2.
/// <paramref name="Error"/> says why there are no tokens (a character tokenizer meets a character it never saw).
/// </summary>
public sealed record TokenizerViewDto(string Name, string Tokenizer, int? DatasetId, int VocabSize, IReadOnlyList<TokenPreviewDto> Tokens,
    IReadOnlyList<string> FirstMerges, string? Error = null);
