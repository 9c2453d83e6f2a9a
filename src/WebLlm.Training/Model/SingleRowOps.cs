using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace WebLlm.Training.Model;

/// <summary>
/// The elementwise work of a decode step at batch 1 (embedding lookup, residual adds, layer norms, GELU) on the single
/// row's memory. Through libtorch each of these is a call of its own, about sixty a gpt2 token, and each call's
/// dispatch (and, for the larger ones, waking its thread pool) costs more than the arithmetic on 768 or 3,072 floats.
/// Results match libtorch's up to rounding: layer-norm statistics are summed in double, GELU is GPT-2's tanh form.
/// </summary>
internal static unsafe class SingleRowOps
{
    private static readonly float GeluScale = MathF.Sqrt(2f / MathF.PI);

    /// <summary>
    /// Whether the methods here apply to <paramref name="x"/>: one contiguous fp32 row on the CPU, no autograd (they
    /// write in place or bypass the graph), and AVX.
    /// </summary>
    public static bool Applies(Tensor x) =>
        Avx.IsSupported && Vector256.IsHardwareAccelerated && !is_grad_enabled()
        && x.dtype == ScalarType.Float32 && x.device_type == DeviceType.CPU
        && x.NumberOfElements == x.size(-1) && x.is_contiguous();

    /// <summary>Whether <see cref="LayerNorm(Tensor, TorchSharp.Modules.LayerNorm)"/> can read this module's parameters.</summary>
    public static bool Applies(LayerNorm ln, Tensor x) =>
        ln.weight is { } w && CpuTensors.IsContiguousFloat(w) && w.NumberOfElements == x.size(-1)
        && (ln.bias is not { } b || (CpuTensors.IsContiguousFloat(b) && b.NumberOfElements == x.size(-1)));

    /// <summary>wte[token] + wpe[position] as [1, 1, C]; null when the token is not a valid id (libtorch then reports it).</summary>
    public static Tensor? Embed(Tensor idx, Tensor wte, Tensor wpe, long position)
    {
        if (idx.dtype != ScalarType.Int64 || idx.device_type != DeviceType.CPU || idx.NumberOfElements != 1
            || !CpuTensors.IsContiguousFloat(wte) || !CpuTensors.IsContiguousFloat(wpe) || position >= wpe.shape[0])
            return null;
        long token = MemoryMarshal.Cast<byte, long>(idx.bytes)[0];
        if (token < 0 || token >= wte.shape[0]) return null;
        int c = (int)wte.shape[1];
        var x = empty([1, 1, c], dtype: ScalarType.Float32); // [1, 1, C]
        var tokenRow = MemoryMarshal.Cast<byte, float>(wte.bytes).Slice((int)(token * c), c);
        var positionRow = MemoryMarshal.Cast<byte, float>(wpe.bytes).Slice((int)(position * c), c);
        fixed (float* t = tokenRow)
        fixed (float* p = positionRow)
        fixed (float* y = MemoryMarshal.Cast<byte, float>(x.bytes))
            Sum(t, p, y, c);
        return x;
    }

    /// <summary>ln(x) as a new row; see <see cref="Applies(Tensor)"/> and <see cref="Applies(LayerNorm, Tensor)"/>.</summary>
    public static Tensor LayerNorm(Tensor x, LayerNorm ln)
    {
        var y = empty_like(x); // x.shape alone would cost a native call and an array
        fixed (float* xp = MemoryMarshal.Cast<byte, float>(x.bytes))
        fixed (float* yp = MemoryMarshal.Cast<byte, float>(y.bytes))
            Normalize(xp, yp, ln, (int)x.NumberOfElements);
        return y;
    }

    /// <summary>
    /// x += delta in place, then ln(x) as a new row: the residual add and the next layer norm in one pass over the row
    /// (x is the forward pass's own residual stream, which nothing else holds).
    /// </summary>
    public static Tensor AddLayerNorm(Tensor x, Tensor delta, LayerNorm ln)
    {
        Add(x, delta);
        return LayerNorm(x, ln);
    }

    /// <summary>x += delta in place, for rows of the same width.</summary>
    public static void Add(Tensor x, Tensor delta)
    {
        if (delta.NumberOfElements != x.NumberOfElements || delta.dtype != ScalarType.Float32 || !delta.is_contiguous())
            throw new ArgumentException($"Cannot add a {delta.dtype} row of {delta.NumberOfElements} to one of {x.NumberOfElements} in place.");
        int n = (int)x.NumberOfElements;
        fixed (float* xp = MemoryMarshal.Cast<byte, float>(x.bytes))
        fixed (float* dp = MemoryMarshal.Cast<byte, float>(delta.bytes))
            Sum(xp, dp, xp, n);
    }

    /// <summary>y = a + b over n floats (y may be a).</summary>
    private static void Sum(float* a, float* b, float* y, int n)
    {
        int i = 0;
        for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Load(a + i) + Vector256.Load(b + i), y + i);
        for (; i < n; i++) y[i] = a[i] + b[i];
    }

    /// <summary>
    /// GELU with GPT-2's tanh approximation, in place: 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³), tanh from
    /// Eigen's rational approximation (a few ulp in float). .NET's Vector256.Exp took 23 µs over 3,072 values here,
    /// three times libtorch's whole GELU.
    /// </summary>
    public static Tensor GeluTanh_(Tensor x)
    {
        int n = (int)x.NumberOfElements;
        fixed (float* p = MemoryMarshal.Cast<byte, float>(x.bytes))
        {
            var scale = Vector256.Create(GeluScale);
            var cubic = Vector256.Create(0.044715f);
            var half = Vector256.Create(0.5f);
            int i = 0;
            for (; i <= n - 8; i += 8)
            {
                var v = Vector256.Load(p + i);
                var t = Tanh(scale * (v + cubic * v * v * v));
                Vector256.Store(half * v * (Vector256<float>.One + t), p + i);
            }
            for (; i < n; i++)
            {
                float v = p[i];
                p[i] = 0.5f * v * (1f + MathF.Tanh(GeluScale * (v + 0.044715f * v * v * v)));
            }
        }
        return x;
    }

    /// <summary>Eigen's generic_fast_tanh_float: x·P(x²)/Q(x²) on x clamped to ±7.9 (where tanh is 1 in float).</summary>
    private static Vector256<float> Tanh(Vector256<float> x)
    {
        var clamp = Vector256.Create(7.90531110763549805f);
        x = Vector256.Min(Vector256.Max(x, -clamp), clamp);
        var x2 = x * x;
        var p = Vector256.Create(-2.76076847742355e-16f);
        p = p * x2 + Vector256.Create(2.00018790482477e-13f);
        p = p * x2 + Vector256.Create(-8.60467152213735e-11f);
        p = p * x2 + Vector256.Create(5.12229709037114e-08f);
        p = p * x2 + Vector256.Create(1.48572235717979e-05f);
        p = p * x2 + Vector256.Create(6.37261928875436e-04f);
        p = p * x2 + Vector256.Create(4.89352455891786e-03f);
        p *= x;
        var q = Vector256.Create(1.19825839466702e-06f);
        q = q * x2 + Vector256.Create(1.18534705686654e-04f);
        q = q * x2 + Vector256.Create(2.26843463243900e-03f);
        q = q * x2 + Vector256.Create(4.89352518554385e-03f);
        return p / q;
    }

    /// <summary>y = (x − mean)/√(var + eps)·weight + bias, the mean and (biased) variance summed in double over two passes.</summary>
    private static void Normalize(float* x, float* y, LayerNorm ln, int n)
    {
        // Four double accumulators: a scalar chain of 768 dependent adds took longer than libtorch's whole layer norm.
        var s0 = Vector256<double>.Zero;
        var s1 = Vector256<double>.Zero;
        int i = 0;
        for (; i <= n - 8; i += 8)
        {
            s0 += Avx.ConvertToVector256Double(Vector128.Load(x + i));
            s1 += Avx.ConvertToVector256Double(Vector128.Load(x + i + 4));
        }
        double sum = Vector256.Sum(s0 + s1);
        for (; i < n; i++) sum += x[i];
        double mean = sum / n;
        var m4 = Vector256.Create(mean);
        s0 = Vector256<double>.Zero;
        s1 = Vector256<double>.Zero;
        for (i = 0; i <= n - 8; i += 8)
        {
            var lo = Avx.ConvertToVector256Double(Vector128.Load(x + i)) - m4;
            var hi = Avx.ConvertToVector256Double(Vector128.Load(x + i + 4)) - m4;
            s0 += lo * lo;
            s1 += hi * hi;
        }
        double squares = Vector256.Sum(s0 + s1);
        for (; i < n; i++)
        {
            double d = x[i] - mean;
            squares += d * d;
        }
        float rstd = (float)(1 / Math.Sqrt(squares / n + ln.eps));
        float m = (float)mean;
        fixed (float* w = MemoryMarshal.Cast<byte, float>(ln.weight!.bytes))
        fixed (float* b = ln.bias is { } bias ? MemoryMarshal.Cast<byte, float>(bias.bytes) : default)
        {
            var mv = Vector256.Create(m);
            var rv = Vector256.Create(rstd);
            for (i = 0; i <= n - 8; i += 8)
            {
                var v = (Vector256.Load(x + i) - mv) * rv * Vector256.Load(w + i);
                Vector256.Store(b is null ? v : v + Vector256.Load(b + i), y + i);
            }
            for (; i < n; i++)
                y[i] = (x[i] - m) * rstd * w[i] + (b is null ? 0f : b[i]);
        }
    }
}
