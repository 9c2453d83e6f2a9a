using WebLlm.Training.Tokenization;

namespace WebLlm.Training.Data;

/// <summary>A prepared dataset folder loaded into memory: its description, both token streams and its tokenizer.</summary>
public sealed class Dataset
{
    private Dataset(string directory, DatasetMeta meta, ushort[] train, ushort[] val, Tokenizer tokenizer)
    {
        Directory = directory;
        Meta = meta;
        Train = train;
        Val = val;
        Tokenizer = tokenizer;
    }

    public string Directory { get; }

    public DatasetMeta Meta { get; }

    public ushort[] Train { get; }

    public ushort[] Val { get; }

    public Tokenizer Tokenizer { get; }

    /// <param name="gpt2Vocab">Needed only when the dataset was made with the gpt2 tokenizer.</param>
    public static Dataset Load(string directory, Gpt2Vocab? gpt2Vocab = null)
    {
        var meta = DatasetMeta.Load(directory);
        var tokenizer = Tokenizer.Create(meta.Tokenizer, gpt2Vocab);
        return new Dataset(
            directory,
            meta,
            TokenShard.Read(Path.Combine(directory, DatasetMeta.TrainFileName)),
            TokenShard.Read(Path.Combine(directory, DatasetMeta.ValFileName)),
            tokenizer);
    }
}
