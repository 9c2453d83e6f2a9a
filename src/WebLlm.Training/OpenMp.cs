namespace WebLlm.Training;

/// <summary>
/// How libtorch's OpenMP workers (GNU libgomp) wait between parallel regions. By default they spin for about 3 ms, and
/// decoding alternates short libtorch ops with the decoding kernel's helper thread and sampling in C#: on a 2-core
/// machine a spinning worker holds the very core the sampler or the helper needs (`gpt2` decode measured 22.6 and 24.9
/// tok/s spinning, 42.3 and 44.5 tok/s with OMP_WAIT_POLICY=PASSIVE; fully spinning, ACTIVE, still halves it today).
/// Sleeping at once costs training instead: a `tiny` step with the char tokenizer is hundreds of small parallel regions,
/// and each one woke its worker from a futex (444 context switches a step). A short spin, GOMP_SPINCOUNT=10000 (about
/// 0.1 ms, libgomp's estimate is 100,000 spins a millisecond), keeps the worker awake between one region and the next
/// and lets it sleep soon after the last: the `tiny` run trains in 0.73 of the time (35 against 48 ms a step, CLI
/// processes taking turns), and decoding is as fast as with passive waiting (docs/PERFORMANCE.md). libgomp reads both
/// variables once, when libtorch loads, from the C environment (Environment.SetEnvironmentVariable does not reach it
/// on Unix), so this runs first thing in the CLI and the server. Values the user set (either variable) are kept.
/// </summary>
public static class OpenMp
{
    private const string SpinCount = "10000";

    public static void PreferShortSpins()
    {
        if (!OperatingSystem.IsLinux()
            || Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null
            || Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") is not null) return;
        try
        {
            // An explicit spin count is used whatever the policy; PASSIVE is what the count replaces.
            Libc.setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
            Libc.setenv("GOMP_SPINCOUNT", SpinCount, 0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // No libc to ask: libgomp keeps its default.
        }
    }
}
