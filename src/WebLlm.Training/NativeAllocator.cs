using System.Runtime.InteropServices;

namespace WebLlm.Training;

/// <summary>
/// libtorch allocates CPU tensors with glibc's malloc. By default, blocks above the mmap threshold (at most
/// 32 MB) are mapped fresh and unmapped on free, so every training step page-faults its large tensors (logits
/// of [batch × context, 50257] are hundreds of MB) into existence again, and the kernel zeroes each page. Raising
/// the threshold and the trim threshold, and keeping one arena so the training thread's big blocks come from
/// the same reusable heap, lets each step reuse the previous step's memory — what PyTorch users get from
/// jemalloc or tcmalloc. Only glibc on Linux; elsewhere this does nothing.
/// </summary>
public static partial class NativeAllocator
{
    private const int M_TRIM_THRESHOLD = -1;
    private const int M_MMAP_THRESHOLD = -3;
    private const int M_ARENA_MAX = -8;

    public static bool Tune()
    {
        if (!OperatingSystem.IsLinux()) return false; // process-wide and idempotent: calling it again changes nothing
        try
        {
            // 1 GB: larger single blocks than this are rare and may as well be mapped.
            return mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1
                && mallopt(M_TRIM_THRESHOLD, int.MaxValue) == 1
                && mallopt(M_ARENA_MAX, 1) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // not glibc (e.g. musl): keep its defaults
        }
    }

    /// <summary>
    /// Bytes glibc's malloc has handed out and not had back (libtorch's CPU tensors among them), or null where that
    /// cannot be asked (not glibc, or older than 2.33). Memory the allocator keeps for reuse is not counted, so this
    /// tells a leak from a heap that grew once and stays.
    /// </summary>
    public static long? HeapInUse()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var info = mallinfo2();
            return (long)(info.uordblks + info.hblkhd);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
    }

    [LibraryImport("libc", EntryPoint = "mallinfo2")]
    private static partial MallInfo2 mallinfo2();

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int param, int value);
}
