using WebLlm.Contracts;

namespace WebLlm.Server.Runs;

/// <summary>
/// Reduces a step series to at most <c>maxPoints</c> by splitting it into maxPoints/2 buckets of consecutive
/// steps and keeping each bucket's minimum-loss and maximum-loss rows (in step order; one row when they are the
/// same). A loss spike is a bucket maximum, so it always survives. The last step is always kept.
/// </summary>
public static class Downsampler
{
    public static IReadOnlyList<StepMetricDto> MinMax(IReadOnlyList<StepMetricDto> steps, int maxPoints) => MinMax(steps, maxPoints, s => s.Loss);

    /// <summary>The same over any rows in step order, given each row's loss (null: non-finite).</summary>
    public static IReadOnlyList<T> MinMax<T>(IReadOnlyList<T> steps, int maxPoints, Func<T, double?> loss)
    {
        if (steps.Count <= maxPoints) return steps;
        int buckets = Math.Max(1, maxPoints / 2);
        var kept = new List<T>(maxPoints + 1);
        int lastKept = -1;
        for (int b = 0; b < buckets; b++)
        {
            int from = (int)((long)steps.Count * b / buckets), to = (int)((long)steps.Count * (b + 1) / buckets);
            if (from >= to) continue;
            int min = from, max = from;
            double lowest = Rank(loss(steps[from])), highest = lowest;
            for (int i = from + 1; i < to; i++)
            {
                // Rows without a loss (non-finite) are extremes of their own: keep them visible as gaps' markers.
                double rank = Rank(loss(steps[i]));
                if (rank < lowest) (min, lowest) = (i, rank);
                if (rank > highest) (max, highest) = (i, rank);
            }
            kept.Add(steps[Math.Min(min, max)]);
            if (min != max) kept.Add(steps[Math.Max(min, max)]);
            lastKept = Math.Max(min, max);
        }
        if (lastKept != steps.Count - 1) kept.Add(steps[^1]);
        return kept;
    }

    /// <summary>Null (non-finite) losses rank above everything, so a divergence is never averaged away.</summary>
    private static double Rank(double? loss) => loss ?? double.PositiveInfinity;
}
