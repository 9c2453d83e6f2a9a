using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace WebLlm.Training;

/// <summary>
/// The machine's practical fp32 peak: FLOP/s of a large square matrix product through libtorch. MFU and
/// the benchmarks are fractions of this number measured on the same machine, so they mean something on
/// any hardware.
/// </summary>
public static class MatmulCeiling
{
    /// <summary>Median FLOP/s over repeated n×n products for about <paramref name="duration"/>.</summary>
    public static double Measure(Device device, TimeSpan duration, int n = 1024)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var a = randn([n, n], device: device);
        var b = randn([n, n], device: device);
        for (int i = 0; i < 2; i++) a.matmul(b).Dispose(); // warm-up: thread pool, caches
        Synchronize(device);
        double flops = 2.0 * n * n * n;
        var rates = new List<double>();
        var total = Stopwatch.StartNew();
        while (total.Elapsed < duration || rates.Count < 3)
        {
            var sw = Stopwatch.StartNew();
            using (a.matmul(b)) Synchronize(device);
            rates.Add(flops / sw.Elapsed.TotalSeconds);
        }
        return Benchmarks.Stats.Median(rates);
    }

    internal static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize();
    }
}
