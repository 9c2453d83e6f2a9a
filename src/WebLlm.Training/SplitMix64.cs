namespace WebLlm.Training;

/// <summary>
/// SplitMix64: tiny, fast, and the same sequence on every machine for a given seed, which is what makes
/// batches and samples reproducible across restarts (System.Random makes no such promise).
/// </summary>
internal sealed class SplitMix64(ulong seed)
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;
    private ulong state = seed;

    public ulong Next()
    {
        ulong r = Hash(state);
        state += Golden;
        return r;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A fixed bijection of 64-bit values that scatters nearby inputs (SplitMix64's output function).</summary>
    public static ulong Hash(ulong z)
    {
        z += Golden;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
