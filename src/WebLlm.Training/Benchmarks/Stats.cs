namespace WebLlm.Training.Benchmarks;

public static class Stats
{
    /// <summary>The middle value (upper middle for an even count); NaN for none. Medians, not means: shared machines have outliers.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted[sorted.Count / 2];
    }
}
