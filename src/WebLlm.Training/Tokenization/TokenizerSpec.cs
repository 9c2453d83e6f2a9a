using System.Text.Json.Serialization;

namespace WebLlm.Training.Tokenization;

/// <summary>
/// Everything needed to rebuild a tokenizer: stored in a dataset's meta.json and in checkpoints,
/// so a model is always decoded with the vocabulary it was trained on.
/// </summary>
/// <param name="Kind"><see cref="CharKind"/> or <see cref="Gpt2Kind"/>.</param>
/// <param name="Vocabulary">For char: the characters in id order. Null for gpt2 (its vocabulary is the
/// hash-verified encoder.json, see <see cref="Gpt2Vocab"/>).</param>
public sealed record TokenizerSpec(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("vocabulary")] string? Vocabulary)
{
    public const string CharKind = "char";
    public const string Gpt2Kind = "gpt2";

    public static TokenizerSpec Gpt2 { get; } = new(Gpt2Kind, null);

    public static TokenizerSpec Char(string vocabulary) => new(CharKind, vocabulary);
}
