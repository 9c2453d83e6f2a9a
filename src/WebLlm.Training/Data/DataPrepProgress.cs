namespace WebLlm.Training.Data;

public enum DataPrepPhase
{
    /// <summary>Reading and decoding input; <see cref="DataPrepProgress.Done"/> counts bytes.</summary>
    Reading,

    /// <summary>Learning a bpe tokenizer's merges from the training text; counts merges.</summary>
    TrainingTokenizer,

    /// <summary>Encoding documents; counts documents.</summary>
    Tokenizing,

    /// <summary>Writing train.bin, val.bin and meta.json; counts files.</summary>
    Writing,
}

/// <param name="Done">Units done in this phase.</param>
/// <param name="Total">Units in this phase.</param>
public readonly record struct DataPrepProgress(DataPrepPhase Phase, long Done, long Total);
