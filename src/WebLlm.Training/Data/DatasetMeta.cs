using System.Text.Json;
using System.Text.Json.Serialization;
using WebLlm.Training.Tokenization;

namespace WebLlm.Training.Data;

/// <summary>meta.json of a dataset folder. It is written last, so its presence means the shards are complete.</summary>
/// <param name="Source">What the data was made from: a path or "builtin".</param>
/// <param name="SourceSha256">SHA-256 over all input bytes in the order they were read.</param>
public sealed record DatasetMeta(
    [property: JsonPropertyName("tokenizer")] TokenizerSpec Tokenizer,
    [property: JsonPropertyName("vocabSize")] int VocabSize,
    [property: JsonPropertyName("trainTokens")] long TrainTokens,
    [property: JsonPropertyName("valTokens")] long ValTokens,
    [property: JsonPropertyName("documents")] int Documents,
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("sourceSha256")] string SourceSha256,
    [property: JsonPropertyName("createdUtc")] DateTimeOffset CreatedUtc,
    [property: JsonPropertyName("valBytes"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? ValBytes = null)
{
    /// <summary>UTF-8 bytes of validation text per token: how much the tokenizer compresses text it was not made from.</summary>
    [JsonIgnore]
    public double? ValBytesPerToken => ValBytes is long b && ValTokens > 0 ? (double)b / ValTokens : null;

    public const string FileName = "meta.json";
    public const string TrainFileName = "train.bin";
    public const string ValFileName = "val.bin";

    /// <summary>Reads meta.json and checks both shards exist with the token counts it states.</summary>
    /// <exception cref="InvalidDataException">The folder is not a complete dataset.</exception>
    public static DatasetMeta Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"{directory} is not a prepared dataset: it has no {FileName}.");
        }

        DatasetMeta meta;
        try
        {
            meta = JsonSerializer.Deserialize<DatasetMeta>(File.ReadAllBytes(path))
                ?? throw new InvalidDataException($"{path} is empty.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path} is not a valid dataset description: {ex.Message}", ex);
        }

        CheckShard(directory, TrainFileName, meta.TrainTokens);
        CheckShard(directory, ValFileName, meta.ValTokens);
        return meta;
    }

    public void Save(string directory) =>
        AtomicFile.Write(Path.Combine(directory, FileName), JsonSerializer.SerializeToUtf8Bytes(this, new JsonSerializerOptions { WriteIndented = true }));

    private static void CheckShard(string directory, string name, long expected)
    {
        var path = Path.Combine(directory, name);
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"{directory} is not a complete dataset: {name} is missing.");
        }

        var count = TokenShard.ReadTokenCount(path);
        if (count != expected)
        {
            throw new InvalidDataException($"{path} holds {count} tokens but {FileName} says {expected}.");
        }
    }
}
