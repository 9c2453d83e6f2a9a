using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace WebLlm.Training.Model;

/// <summary>
/// x·Wᵀ + b for a single row of x, the shape of every projection when decoding one token at batch 1. Such a
/// product reads each weight once and does two flops with it, so it runs at the speed memory is read; libtorch
/// runs it on one core, which reads at about a third of what the machine can. Here the output rows are dealt out
/// in shrinking chunks to the calling thread and one helper thread owned by this object, reading the fp32 weights [out, in]
/// straight from the tensor's memory. Each output is one dot product computed start to end by one thread in a
/// fixed order, so the result does not depend on which thread computed it or on how many took part.
/// </summary>
internal sealed unsafe class SingleRowLinear : IDisposable
{
    // Below this many weights a product takes a few microseconds and waking the helper is not worth it.
    internal const long HelperMinWeights = 1 << 16;
    // Claims of rows, in bytes of weights, are a quarter of what is left within these bounds: the smallest keeps both
    // threads finishing together when one is slowed by other work on the machine, the largest bounds what a thread
    // that loses its core for a time slice still has to read once it is back, while the other waits for it.
    private const int ChunkBytes = 64 * 1024;
    private const int MaxClaimBytes = 1024 * 1024;
    private const int Idle = 0, Posted = 1, Running = 2;

    private readonly bool useHelper;
    private Thread? helper;
    private readonly ManualResetEventSlim wake = new(false, spinCount: 0);
    private readonly object start = new();
    private int callerBusy; // 1 while one caller owns the helper; other concurrent callers work alone
    private int state = Idle;
    private int sleeping;
    private int decodeSteps; // forward passes between BeginStep and the end of the step: while any runs, the helper polls
    private long lastStepEnd; // Stopwatch ticks
    // After a step the helper keeps polling this long: the next token's step follows after sampling (well under a
    // millisecond), and a thread woken from sleep on a busy machine can take the caller's core for a whole time slice.
    private static readonly long LingerTicks = Stopwatch.Frequency / 500; // 2 ms
    private volatile bool disposed;
    private Job? job; // written by the caller only while state is Idle

    /// <param name="useHelper">Whether to split rows with a second thread; without it the same products run on
    /// the calling thread alone (same results, used by tests and on single-core machines).</param>
    public SingleRowLinear(bool useHelper) => this.useHelper = useHelper;

    /// <summary>
    /// Whether <see cref="Forward"/> can compute F.linear(x, weight, bias): one row, fp32, on the CPU, a contiguous
    /// weight, no autograd, and a CPU with 256-bit FMA (elsewhere libtorch's own kernel is the better choice).
    /// </summary>
    public static bool Applies(Tensor x, Tensor weight, Tensor? bias) =>
        Fma.IsSupported && Vector256.IsHardwareAccelerated && !is_grad_enabled()
        && x.dtype == ScalarType.Float32 && x.device_type == DeviceType.CPU // one row: made contiguous in Forward if it is not
        && CpuTensors.IsContiguousFloat(weight) && (bias is null || CpuTensors.IsContiguousFloat(bias))
        && x.NumberOfElements == x.shape[^1]
        // Shapes that F.linear would reject go there, for its error message (this kernel would read past the end).
        && weight.dim() == 2 && weight.shape[1] == x.shape[^1] && (bias is null || bias.NumberOfElements == weight.shape[0]);

    /// <summary>
    /// Marks a forward pass whose projections are single rows. A token's projections come tens of microseconds
    /// apart, too close for the helper to sleep in between (waking a thread costs about as much), so during the step
    /// it polls, yielding now and then; 2 ms after the last step it sleeps and leaves the core to training or other
    /// processes.
    /// </summary>
    public Step BeginStep()
    {
        if (!useHelper) return default;
        EnsureHelper();
        Interlocked.Increment(ref decodeSteps);
        if (Volatile.Read(ref sleeping) == 1) wake.Set(); // wake it now, so it is polling by the first product
        return new Step(this);
    }

    public readonly struct Step(SingleRowLinear? owner) : IDisposable
    {
        public void Dispose()
        {
            if (owner is null) return;
            Volatile.Write(ref owner.lastStepEnd, Stopwatch.GetTimestamp());
            Interlocked.Decrement(ref owner.decodeSteps);
        }
    }

    /// <summary>F.linear(x, weight, bias) for x [..., in] holding one row; see <see cref="Applies"/>.</summary>
    public Tensor Forward(Tensor x, Tensor weight, Tensor? bias)
    {
        long outFeatures = weight.shape[0];
        int inFeatures = (int)weight.shape[1];
        var row = x.is_contiguous() ? x : x.contiguous(); // [in]
        var y = empty([.. x.shape[..^1], outFeatures], dtype: ScalarType.Float32); // [..., out]
        fixed (float* w = MemoryMarshal.Cast<byte, float>(weight.bytes))
        fixed (float* xp = MemoryMarshal.Cast<byte, float>(row.bytes))
        fixed (float* b = bias is null ? default : MemoryMarshal.Cast<byte, float>(bias.bytes))
        fixed (float* yp = MemoryMarshal.Cast<byte, float>(y.bytes))
        {
            int rowBytes = inFeatures * sizeof(float);
            var work = new Job(w, xp, b, yp, inFeatures, outFeatures, Math.Max(1, ChunkBytes / rowBytes), Math.Max(1, MaxClaimBytes / rowBytes));
            // One libtorch thread (--threads 1) means one core for this product too.
            if (useHelper && weight.NumberOfElements >= HelperMinWeights && get_num_threads() > 1 && Interlocked.CompareExchange(ref callerBusy, 1, 0) == 0)
            {
                try { RunShared(work); }
                finally { Volatile.Write(ref callerBusy, 0); }
            }
            else
            {
                work.Rows(0, outFeatures);
            }
        }
        if (!ReferenceEquals(row, x)) row.Dispose();
        return y;
    }

    private void RunShared(Job work)
    {
        EnsureHelper();
        job = work;
        Interlocked.Exchange(ref state, Posted);
        if (Volatile.Read(ref sleeping) == 1) wake.Set();
        work.ClaimAll();
        // If the helper has not picked the product up yet, take it back: the caller has done every row.
        if (Interlocked.CompareExchange(ref state, Idle, Posted) == Posted) return;
        var spin = new SpinWait();
        while (Volatile.Read(ref state) != Idle) spin.SpinOnce(sleep1Threshold: -1);
    }

    private void EnsureHelper()
    {
        if (helper is not null) return;
        lock (start)
        {
            if (helper is not null) return;
            helper = new Thread(HelperLoop) { IsBackground = true, Name = "WebLlm single-row linear" };
            helper.Start();
        }
    }

    private void HelperLoop()
    {
        while (!disposed)
        {
            // SpinWait yields now and then: on a busy machine the caller may be waiting for this very core.
            var poll = new SpinWait();
            while (Volatile.Read(ref state) != Posted && (Volatile.Read(ref decodeSteps) > 0 || Lingering())) poll.SpinOnce(sleep1Threshold: -1);
            if (Volatile.Read(ref state) != Posted && Volatile.Read(ref decodeSteps) == 0)
            {
                // Announce the sleep, then look once more: a caller that posts a product or begins a step in between
                // either sees the flag (and wakes us) or is seen here.
                Interlocked.Exchange(ref sleeping, 1);
                if (Volatile.Read(ref state) != Posted && Volatile.Read(ref decodeSteps) == 0 && !disposed) wake.Wait();
                wake.Reset();
                Interlocked.Exchange(ref sleeping, 0);
            }
            if (Interlocked.CompareExchange(ref state, Running, Posted) != Posted) continue;
            job!.ClaimAll();
            Volatile.Write(ref state, Idle);
        }
    }

    private bool Lingering() => Stopwatch.GetTimestamp() - Volatile.Read(ref lastStepEnd) < LingerTicks && !disposed;

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        wake.Set();
        helper?.Join();
        wake.Dispose();
    }

    /// <summary>One product: its pointers, and the next unclaimed row (shared by the threads working on it).</summary>
    private sealed class Job(float* w, float* x, float* b, float* y, int inFeatures, long outFeatures, int chunkRows, int maxClaimRows)
    {
        private long next;

        /// <summary>
        /// Claims rows until none are left: a quarter of what is left at a time, between a chunk and the largest claim.
        /// A gpt2 token takes about 700 claims instead of 7,600 at one chunk each (every claim a cache line bouncing
        /// between the cores, and a border in y that both write).
        /// </summary>
        public void ClaimAll()
        {
            while (true)
            {
                long from = Volatile.Read(ref next);
                if (from >= outFeatures) return;
                long to = Math.Min(outFeatures, from + Math.Clamp((outFeatures - from) / 4, chunkRows, maxClaimRows));
                if (Interlocked.CompareExchange(ref next, to, from) == from) Rows(from, to);
            }
        }

        public void Rows(long from, long to)
        {
            for (long r = from; r < to; r++)
                y[r] = Dot(w + r * inFeatures, x, inFeatures) + (b is null ? 0f : b[r]);
        }
    }

    /// <summary>Σ a[i]·b[i] with four 8-wide accumulators (loads overlap), then the tail one by one.</summary>
    internal static float Dot(float* a, float* b, int n)
    {
        var s0 = Vector256<float>.Zero;
        var s1 = Vector256<float>.Zero;
        var s2 = Vector256<float>.Zero;
        var s3 = Vector256<float>.Zero;
        int i = 0;
        for (; i <= n - 32; i += 32)
        {
            s0 = Fma.MultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), s0);
            s1 = Fma.MultiplyAdd(Vector256.Load(a + i + 8), Vector256.Load(b + i + 8), s1);
            s2 = Fma.MultiplyAdd(Vector256.Load(a + i + 16), Vector256.Load(b + i + 16), s2);
            s3 = Fma.MultiplyAdd(Vector256.Load(a + i + 24), Vector256.Load(b + i + 24), s3);
        }
        for (; i <= n - 8; i += 8)
            s0 = Fma.MultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), s0);
        float sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        for (; i < n; i++)
            sum += a[i] * b[i];
        return sum;
    }
}
