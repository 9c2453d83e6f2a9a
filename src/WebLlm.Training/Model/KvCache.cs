using TorchSharp;
using static TorchSharp.torch;

namespace WebLlm.Training.Model;

/// <summary>
/// Keys and values of every layer for the positions seen so far, preallocated for the whole context so
/// that decoding a token writes one column instead of growing tensors. Owned by one generation.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor[] keys;   // per layer [B, nh, BlockSize, hs]
    private readonly Tensor[] values; // per layer [B, nh, BlockSize, hs]

    public int Length { get; private set; }
    public int Capacity { get; }

    /// <summary>Batch 1, fp32, in CPU memory: what <see cref="Decoder"/>'s single-row attention reads.</summary>
    internal bool TakesOneRow { get; }

    public KvCache(GptConfig config, int batch, Device device, ScalarType dtype = ScalarType.Float32)
    {
        Capacity = config.BlockSize;
        TakesOneRow = batch == 1 && dtype == ScalarType.Float32 && device.type == DeviceType.CPU;
        int hs = config.NEmbd / config.NHead;
        keys = new Tensor[config.NLayer];
        values = new Tensor[config.NLayer];
        for (int i = 0; i < config.NLayer; i++)
        {
            // Created outside any dispose scope on purpose: the cache outlives each decode step's scope.
            keys[i] = zeros([batch, config.NHead, Capacity, hs], dtype: dtype, device: device).DetachFromDisposeScope();
            values[i] = zeros([batch, config.NHead, Capacity, hs], dtype: dtype, device: device).DetachFromDisposeScope();
        }
    }

    /// <summary>Writes k, v [B, nh, T, hs] after the current length; returns views of everything so far.</summary>
    internal (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        long t = k.shape[2];
        keys[layer][.., .., Length..(int)(Length + t), ..].copy_(k);
        values[layer][.., .., Length..(int)(Length + t), ..].copy_(v);
        return (keys[layer][.., .., ..(int)(Length + t), ..], values[layer][.., .., ..(int)(Length + t), ..]);
    }

    /// <summary>Whether <see cref="AttendOne"/> can take this layer's step (one new token at batch 1; see <see cref="SingleQueryAttention"/>).</summary>
    internal bool CanAttendOne(int layer, Tensor qkv) => SingleQueryAttention.Applies(qkv, keys[layer], values[layer], Length);

    /// <summary>Appends the new token's key and value from qkv [1, 1, 3C] and returns its attention output [1, 1, C].</summary>
    internal Tensor AttendOne(int layer, Tensor qkv) => SingleQueryAttention.Forward(qkv, keys[layer], values[layer], Length);

    /// <summary>Called once per forward, after every layer has appended.</summary>
    internal void Advance(int t) => Length += t;

    public void Reset() => Length = 0;

    public void Dispose()
    {
        foreach (var t in keys) t.Dispose();
        foreach (var t in values) t.Dispose();
    }
}
