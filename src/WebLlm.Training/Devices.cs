using static TorchSharp.torch;

namespace WebLlm.Training;

public static class Devices
{
    /// <summary>"auto" is CUDA when a device is present, else the CPU; "cuda" without a device is an error, not a silent fallback.</summary>
    public static Device Resolve(string name) => name switch
    {
        "auto" => cuda.is_available() ? CUDA : CPU,
        "cpu" => CPU,
        "cuda" when cuda.is_available() => CUDA,
        "cuda" => throw new ArgumentException("Device 'cuda' was asked for, but no CUDA device is available (this build uses TorchSharp-cpu unless built with -p:TorchBackend=cuda)."),
        _ => throw new ArgumentException($"Unknown device '{name}': use auto, cpu or cuda."),
    };

    /// <summary>Sets libtorch's intra-op thread count when asked (0 keeps the default of one per core).</summary>
    public static void SetThreads(int threads)
    {
        if (threads > 0 && get_num_threads() != threads) set_num_threads(threads);
    }
}
