using TorchSharp;
using static TorchSharp.torch;

namespace WebLlm.Training;

/// <summary>What the C# kernels (decoding, the fused AdamW) read straight from a tensor's memory through <c>Tensor.bytes</c>.</summary>
internal static class CpuTensors
{
    /// <summary>Contiguous fp32 in CPU memory, and small enough for <c>Tensor.bytes</c>, which is a Span.</summary>
    public static bool IsContiguousFloat(Tensor t) =>
        t.dtype == ScalarType.Float32 && t.device_type == DeviceType.CPU && t.is_contiguous()
        && t.NumberOfElements * sizeof(float) <= int.MaxValue;
}
