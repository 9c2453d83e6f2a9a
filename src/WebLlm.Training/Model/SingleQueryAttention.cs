using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace WebLlm.Training.Model;

/// <summary>
/// Attention of one new token over the KV cache at batch 1, the shape of every decode step. Through libtorch this step
/// is about fifteen calls a layer (split, views, transposes, two cache writes, scaled_dot_product_attention, the copy
/// that puts the heads side by side again), each costing more than the arithmetic of a short context. Here it is one
/// pass over the tensors' memory: the new key and value go into the cache, and each head's output is
/// softmax(q·Kᵀ/√hs)·V, computed in fp32 like libtorch's, up to the order of the sums.
/// </summary>
internal static unsafe class SingleQueryAttention
{
    /// <summary>
    /// Whether <see cref="Forward"/> applies: one fp32 row of q, k, v [1, 1, 3C] on the CPU, fp32 contiguous caches
    /// [1, nh, capacity, hs] with room for it, no autograd, and 256-bit FMA.
    /// </summary>
    public static bool Applies(Tensor qkv, Tensor keys, Tensor values, int past) =>
        Fma.IsSupported && Vector256.IsHardwareAccelerated && !is_grad_enabled()
        && qkv.dtype == ScalarType.Float32 && qkv.device_type == DeviceType.CPU && qkv.NumberOfElements == qkv.shape[^1] && qkv.is_contiguous()
        && CpuTensors.IsContiguousFloat(keys) && keys.shape[0] == 1 && CpuTensors.IsContiguousFloat(values)
        && past < keys.shape[2] && qkv.shape[^1] == 3 * keys.shape[1] * keys.shape[3];

    /// <summary>
    /// Writes the new key and value (the second and third thirds of <paramref name="qkv"/>) at position
    /// <paramref name="past"/> of the caches and returns the attention output [1, 1, C], heads side by side.
    /// </summary>
    public static Tensor Forward(Tensor qkv, Tensor keys, Tensor values, int past)
    {
        int nHead = (int)keys.shape[1], capacity = (int)keys.shape[2], hs = (int)keys.shape[3];
        int c = nHead * hs, length = past + 1;
        var y = empty([1, 1, c], dtype: ScalarType.Float32); // [1, 1, C]
        float scale = 1f / MathF.Sqrt(hs);
        Span<float> scores = length <= 1024 ? stackalloc float[length] : new float[length];
        fixed (float* q = MemoryMarshal.Cast<byte, float>(qkv.bytes))
        fixed (float* kc = MemoryMarshal.Cast<byte, float>(keys.bytes))
        fixed (float* vc = MemoryMarshal.Cast<byte, float>(values.bytes))
        fixed (float* yp = MemoryMarshal.Cast<byte, float>(y.bytes))
        fixed (float* s = scores)
        {
            for (int h = 0; h < nHead; h++)
            {
                float* kh = kc + (long)h * capacity * hs; // this head's keys [capacity, hs]
                float* vh = vc + (long)h * capacity * hs; // this head's values [capacity, hs]
                new ReadOnlySpan<float>(q + c + h * hs, hs).CopyTo(new Span<float>(kh + (long)past * hs, hs));
                new ReadOnlySpan<float>(q + 2 * c + h * hs, hs).CopyTo(new Span<float>(vh + (long)past * hs, hs));
                Head(q + h * hs, kh, vh, yp + h * hs, s, length, hs, scale);
            }
        }
        return y;
    }

    private static void Head(float* q, float* k, float* v, float* y, float* scores, int length, int hs, float scale)
    {
        float max = float.NegativeInfinity;
        for (int p = 0; p < length; p++)
        {
            scores[p] = SingleRowLinear.Dot(q, k + (long)p * hs, hs) * scale;
            max = MathF.Max(max, scores[p]);
        }
        float sum = 0;
        for (int p = 0; p < length; p++) sum += scores[p] = MathF.Exp(scores[p] - max);
        new Span<float>(y, hs).Clear();
        for (int p = 0; p < length; p++) Axpy(scores[p] / sum, v + (long)p * hs, y, hs);
    }

    /// <summary>y += a·x.</summary>
    private static void Axpy(float a, float* x, float* y, int n)
    {
        var av = Vector256.Create(a);
        int i = 0;
        for (; i <= n - 8; i += 8)
            Vector256.Store(Fma.MultiplyAdd(av, Vector256.Load(x + i), Vector256.Load(y + i)), y + i);
        for (; i < n; i++)
            y[i] += a * x[i];
    }
}
