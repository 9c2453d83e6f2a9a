using System.Text.Json.Serialization;

namespace WebLlm.Training.Tokenization;

/// <summary>
/// Everything needed to rebuild a tokenizer: stored in a dataset's meta.json and in checkpoints,
/// so a model is always decoded with the vocabulary it was trained on.
/// </summary>
/// <param name="Kind"><see cref="CharKind"/>, <see cref="Gpt2Kind"/> or <see cref="BpeKind"/>.</param>
/// <param name="Vocabulary">For char: the characters in id order. Null for gpt2 (its vocabulary is the
/// hash-verified encoder.json, see <see cref="Gpt2Vocab"/>). For bpe: the trained ranks in tiktoken's format
/// ("base64(bytes) rank" a line), the same text as the dataset's tokenizer.tiktoken.</param>
/// <param name="Pattern">For bpe: the split pattern it was trained with.</param>
/// <param name="SpecialTokens">For bpe: the special tokens, whose ids follow the ranks in this order.</param>
/// <param name="Sha256">For bpe: the SHA-256 of <paramref name="Vocabulary"/> as UTF-8, i.e. of tokenizer.tiktoken.</param>
public sealed record TokenizerSpec(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("vocabulary")] string? Vocabulary,
    [property: JsonPropertyName("pattern"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Pattern = null,
    [property: JsonPropertyName("specialTokens"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string[]? SpecialTokens = null,
    [property: JsonPropertyName("sha256"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Sha256 = null)
{
    public const string CharKind = "char";
    public const string Gpt2Kind = "gpt2";
    public const string BpeKind = "bpe";

    public static TokenizerSpec Gpt2 { get; } = new(Gpt2Kind, null);

    public static TokenizerSpec Char(string vocabulary) => new(CharKind, vocabulary);
}
