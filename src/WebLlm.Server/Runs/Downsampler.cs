using WebLlm.Contracts;

namespace WebLlm.Server.Runs;

/// <summary>
/// Reduces a step series to at most <c>maxPoints</c> by splitting it into maxPoints/2 buckets of consecutive
/// steps and keeping each bucket's minimum-loss and maximum-loss rows (in step order; one row when they are the
/// same). A loss spike is a bucket maximum, so it always survives. The last step is always kept.
/// </summary>
public static class Downsampler
{
    public static IReadOnlyList<StepMetricDto> MinMax(IReadOnlyList<StepMetricDto> steps, int maxPoints)
    {
        if (steps.Count <= maxPoints) return steps;
        int buckets = Math.Max(1, maxPoints / 2);
        var kept = new List<StepMetricDto>(maxPoints + 1);
        for (int b = 0; b < buckets; b++)
        {
            int from = (int)((long)steps.Count * b / buckets), to = (int)((long)steps.Count * (b + 1) / buckets);
            if (from >= to) continue;
            int min = from, max = from;
            for (int i = from; i < to; i++)
            {
                // Rows without a loss (non-finite) are extremes of their own: keep them visible as gaps' markers.
                if (Loss(steps[i]) < Loss(steps[min])) min = i;
                if (Loss(steps[i]) > Loss(steps[max])) max = i;
            }
            kept.Add(steps[Math.Min(min, max)]);
            if (min != max) kept.Add(steps[Math.Max(min, max)]);
        }
        if (kept[^1].Step != steps[^1].Step) kept.Add(steps[^1]);
        return kept;
    }

    /// <summary>Null (non-finite) losses rank above everything, so a divergence is never averaged away.</summary>
    private static double Loss(StepMetricDto s) => s.Loss ?? double.PositiveInfinity;
}
