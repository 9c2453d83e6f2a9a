using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static TorchSharp.torch;

namespace WebLlm.Training.Loop;

/// <summary>
/// AdamW's update of CPU tensors in one pass over memory: each element of the parameter, its gradient and both
/// moments is read once and the three states written once. Through libtorch the same update is seven kernels
/// (decay, lerp, mul, addcmul, sqrt, add, addcdiv) and clipping's rescale one more, each a full pass; on a 124M
/// parameter model that is 9 GB of traffic against 3.5 GB here, and the optimizer is bound by memory, not arithmetic
/// (PyTorch's <c>fused=True</c> AdamW does the same for CUDA and, since 2.4, the CPU; TorchSharp does not expose it).
/// </summary>
internal static unsafe class FusedAdamW
{
    /// <summary>Elements per work item: large enough that scheduling is noise, small enough to share a tensor between threads.</summary>
    private const long Chunk = 1 << 16;

    /// <summary>The update's constants, the same for every element of one tensor.</summary>
    public readonly record struct Coefficients(float GradScale, float Decay, float Beta1, float Beta2, float Eps, float StepSize);

    /// <summary>One tensor's update: raw pointers into libtorch's memory, which the garbage collector never moves.</summary>
    public readonly record struct Update(nint P, nint G, nint M, nint V, long Count, Coefficients C);

    /// <summary>Whether the four tensors are contiguous fp32 in CPU memory, the only layout the loop reads.</summary>
    public static bool Applies(Tensor p, Tensor g, Tensor m, Tensor v) =>
        Vector256.IsHardwareAccelerated
        && CpuTensors.IsContiguousFloat(p) && CpuTensors.IsContiguousFloat(g) && CpuTensors.IsContiguousFloat(m) && CpuTensors.IsContiguousFloat(v)
        && g.NumberOfElements == p.NumberOfElements;

    public static Update For(Tensor p, Tensor g, Tensor m, Tensor v, Coefficients c) =>
        new(Address(p), Address(g), Address(m), Address(v), p.NumberOfElements, c);

    private static nint Address(Tensor t) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));

    /// <summary>
    /// Elements a helper thread must have before one is woken: a million take about a millisecond, what waking a
    /// sleeping pool thread can cost on a busy 2-core machine (a small model's whole update is less).
    /// </summary>
    private const long MinPerThread = 1 << 20;

    /// <summary>Applies every update, split into chunks over up to <paramref name="threads"/> threads.</summary>
    public static void Run(IReadOnlyList<Update> updates, int threads)
    {
        long total = updates.Sum(u => u.Count);
        int degree = (int)Math.Clamp(total / MinPerThread, 1, Math.Max(1, threads));
        if (degree == 1)
        {
            foreach (var w in updates) Apply((float*)w.P, (float*)w.G, (float*)w.M, (float*)w.V, w.Count, w.C);
            return;
        }
        var chunks = new List<(int Update, long Start, long Count)>();
        for (int u = 0; u < updates.Count; u++)
            for (long start = 0; start < updates[u].Count; start += Chunk)
                chunks.Add((u, start, Math.Min(Chunk, updates[u].Count - start)));
        Parallel.For(0, chunks.Count, new ParallelOptions { MaxDegreeOfParallelism = degree }, i =>
        {
            var (u, start, count) = chunks[i];
            var w = updates[u];
            Apply((float*)w.P + start, (float*)w.G + start, (float*)w.M + start, (float*)w.V + start, count, w.C);
        });
    }

    /// <summary>
    /// g ← g·scale; p ← p·decay; m ← m + (1−β1)(g − m); v ← β2·v + (1−β2)·g²; p ← p − step·m / (√v + ε),
    /// in the order and form of the libtorch path in <see cref="AdamW"/> (its lerp with weight below ½ is m + w(g − m)).
    /// </summary>
    private static void Apply(float* p, float* g, float* m, float* v, long n, Coefficients c)
    {
        var scale = Vector256.Create(c.GradScale);
        var decay = Vector256.Create(c.Decay);
        var mix1 = Vector256.Create(1 - c.Beta1);
        var beta2 = Vector256.Create(c.Beta2);
        var mix2 = Vector256.Create(1 - c.Beta2);
        var eps = Vector256.Create(c.Eps);
        var step = Vector256.Create(-c.StepSize);
        long i = 0;
        for (; i <= n - 8; i += 8)
        {
            var gi = Vector256.Load(g + i) * scale;
            var mi = Vector256.Load(m + i);
            mi += mix1 * (gi - mi);
            var vi = beta2 * Vector256.Load(v + i) + mix2 * gi * gi;
            var pi = Vector256.Load(p + i) * decay + step * mi / (Vector256.Sqrt(vi) + eps);
            Vector256.Store(mi, m + i);
            Vector256.Store(vi, v + i);
            Vector256.Store(pi, p + i);
        }
        for (; i < n; i++)
        {
            float gi = g[i] * c.GradScale;
            float mi = m[i] + (1 - c.Beta1) * (gi - m[i]);
            float vi = c.Beta2 * v[i] + (1 - c.Beta2) * gi * gi;
            m[i] = mi;
            v[i] = vi;
            p[i] = p[i] * c.Decay + -c.StepSize * mi / (MathF.Sqrt(vi) + c.Eps);
        }
    }
}
