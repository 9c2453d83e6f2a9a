using System.Diagnostics;
using System.Reflection;
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
    /// <see cref="Tune"/> keeps one arena only for threads that take their first arena after it runs. A server trains on
    /// a thread it starts long after the runtime's own threads (and Kestrel's) have arenas of their own, and glibc hands
    /// that thread one of those: a secondary arena, whose heaps are at most 64 MB, so every larger block (the logits and
    /// their gradients with GPT-2's vocabulary) is mmapped and unmapped again each step, the page faults Tune removed.
    /// Measured: `tiny` with GPT-2's tokenizer at batch 12 faulted 161,875 pages and took 510 ms a step in the server,
    /// against 367 pages and 318 ms with MALLOC_ARENA_MAX=1 (the CLI, which trains on its main thread: 320 ms). glibc
    /// reads MALLOC_ARENA_MAX only when a process starts, so the server starts itself again in place (execv: same
    /// process id, arguments and environment, plus that variable) before it does anything else. Not under a debugger,
    /// not when the process is a test host (<paramref name="entry"/> is not the entry assembly), not when the user set
    /// MALLOC_ARENA_MAX or glibc's arena_max tunable (set MALLOC_ARENA_MAX=8, say, to keep glibc's own choice), and not
    /// where this is not glibc on Linux. Returns only when it does not restart.
    /// </summary>
    public static void RestartWithOneArena(Assembly entry)
    {
        if (!OperatingSystem.IsLinux() || Debugger.IsAttached || Assembly.GetEntryAssembly() != entry) return;
        if (Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX") is not null) return;
        if (Environment.GetEnvironmentVariable("GLIBC_TUNABLES")?.Contains("arena_max", StringComparison.Ordinal) == true) return;
        string[] argv;
        try
        {
            argv = File.ReadAllText("/proc/self/cmdline").Split('\0', StringSplitOptions.None)[..^1];
            _ = gnu_get_libc_version(); // glibc only: musl has no arenas to speak of
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
        {
            return;
        }
        if (argv.Length == 0 || Libc.setenv("MALLOC_ARENA_MAX", "1", 1) != 0) return;
        var pointers = new nint[argv.Length + 1]; // NULL-terminated, as execv wants
        for (int i = 0; i < argv.Length; i++) pointers[i] = Marshal.StringToCoTaskMemUTF8(argv[i]);
        // The resolved path, not /proc/self/exe: the kernel names a process after the file it executed, and `top`
        // and `ps` should show dotnet (or WebLlm.Server), not "exe".
        execv(Environment.ProcessPath ?? "/proc/self/exe", pointers);
        // Only reached when execv failed: carry on as we are, without the variable (children would inherit it).
        foreach (var p in pointers) Marshal.FreeCoTaskMem(p);
        Libc.unsetenv("MALLOC_ARENA_MAX");
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

    [LibraryImport("libc", EntryPoint = "gnu_get_libc_version")]
    private static partial nint gnu_get_libc_version();

    [LibraryImport("libc", EntryPoint = "execv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int execv(string path, nint[] argv);

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int param, int value);
}
