using static TorchSharp.torch;

namespace WebLlm.Training.Loop;

/// <summary>
/// Random windows of a token stream, as nanoGPT's get_batch. Each offset is a pure function of
/// (seed, step, micro-step, row), so the data position of a run is just its step: resuming needs no
/// sampler state, and the same step always sees the same batch.
/// </summary>
public sealed class BatchSampler
{
    private readonly ushort[] tokens;
    private readonly ulong seed;

    public int BatchSize { get; }
    public int BlockSize { get; }

    public BatchSampler(ushort[] tokens, int batchSize, int blockSize, ulong seed)
    {
        if (tokens.Length < blockSize + 1)
            throw new ArgumentException($"The token stream has {tokens.Length} tokens; a window of context {blockSize} needs at least {blockSize + 1}.");
        this.tokens = tokens;
        BatchSize = batchSize;
        BlockSize = blockSize;
        this.seed = seed;
    }

    /// <summary>Inputs x and targets y (x shifted by one), both [B, T] int64.</summary>
    public (Tensor X, Tensor Y) Get(long step, int micro, Device device)
    {
        long span = tokens.Length - BlockSize; // valid start offsets: 0 … span-1
        var x = new long[BatchSize * BlockSize];
        var y = new long[BatchSize * BlockSize];
        for (int b = 0; b < BatchSize; b++)
        {
            ulong h = SplitMix64.Hash(seed ^ SplitMix64.Hash((ulong)step * 0x9E3779B97F4A7C15UL ^ SplitMix64.Hash(((ulong)micro << 32) | (uint)b)));
            long start = (long)(h % (ulong)span);
            for (int t = 0; t < BlockSize; t++)
            {
                x[b * BlockSize + t] = tokens[start + t];
                y[b * BlockSize + t] = tokens[start + t + 1];
            }
        }
        return (Devices.ToDevice(tensor(x, [BatchSize, BlockSize]), device), Devices.ToDevice(tensor(y, [BatchSize, BlockSize]), device));
    }
}
