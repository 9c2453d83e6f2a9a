namespace WebLlm.Training;

/// <summary>
/// libtorch's OpenMP workers (GNU libgomp) spin after each parallel region, waiting for the next one. Decoding
/// alternates short libtorch ops with the decoding kernel's helper thread and sampling in C#, so on a 2-core machine a
/// spinning worker holds the very core the sampler or the helper needs: `webllm bench --inference --presets gpt2`
/// measured 22.6 and 24.9 tok/s with spinning (20 ms a token outside the forward pass) and 42.3 and 44.5 tok/s with
/// OMP_WAIT_POLICY=PASSIVE. Training pays at most a few percent: `tiny` at batch 12 gave 57.9/47.8 % of the ceiling
/// spinning and 57.3/55.5 % passive; with the char tokenizer (small products, more parallel regions) 36.8/38.6 ms a
/// step spinning and 37.4/40.6 passive, alternating runs. libgomp reads the policy once, when libtorch loads, from the
/// C environment (Environment.SetEnvironmentVariable does not reach it on Unix), so this runs first thing in the CLI
/// and the server. A value the user set is kept.
/// </summary>
public static class OpenMp
{
    public static void PreferPassiveWaiting()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null) return;
        try
        {
            Libc.setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // No libc to ask: libgomp keeps its default.
        }
    }
}
