using TorchSharp;
using static TorchSharp.torch;

namespace WebLlm.Training;

public static class Devices
{
    /// <summary>"auto" is CUDA when a device is present, else the CPU; "cuda" without a device is an error, not a silent fallback.</summary>
    public static Device Resolve(string name)
    {
        var device = name switch
        {
            "auto" => cuda.is_available() ? CUDA : CPU,
            "cpu" => CPU,
            "cuda" when cuda.is_available() => CUDA,
            "cuda" => throw new ArgumentException("Device 'cuda' was asked for, but no CUDA device is available (this build uses TorchSharp-cpu unless built with -p:TorchBackend=cuda)."),
            _ => throw new ArgumentException($"Unknown device '{name}': use auto, cpu or cuda."),
        };
        if (device.type == DeviceType.CUDA) EnableTf32();
        return device;
    }

    /// <summary>
    /// TF32 tensor cores for fp32 matrix products and convolutions on Ampere and newer GPUs, as nanoGPT and
    /// llm.c do: about 8× the fp32 throughput for a 10-bit mantissa in the products, which training does not
    /// notice. Off by default in PyTorch since 1.12, so it is turned on explicitly.
    /// </summary>
    private static void EnableTf32()
    {
        backends.cuda.matmul.allow_tf32 = true;
        backends.cudnn.allow_tf32 = true;
    }

    /// <summary>Host tensors bound for a GPU are pinned so the copy can run asynchronously with compute.</summary>
    public static Tensor ToDevice(Tensor host, Device device) =>
        device.type == DeviceType.CUDA ? host.pin_memory().to(device, non_blocking: true) : host;

    /// <summary>Sets libtorch's intra-op thread count when asked (0 keeps the default of one per core).</summary>
    public static void SetThreads(int threads)
    {
        if (threads > 0 && get_num_threads() != threads) set_num_threads(threads);
    }
}
