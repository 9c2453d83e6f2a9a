using WebLlm.Client.Services;
using WebLlm.Contracts;

namespace WebLlm.Client.Charts;

public enum XAxis { Step, Tokens, Time }

/// <summary>Chart settings shared by the charts of a page.</summary>
public sealed class ChartSettings
{
    public double Smoothing { get; set; } = 0.6;
    public bool LogX { get; set; }
    public bool LogY { get; set; }
    public XAxis XAxis { get; set; } = XAxis.Step;

    public string XLabel => XAxis switch
    {
        XAxis.Tokens => "tokens seen",
        XAxis.Time => "training time (s)",
        _ => "step",
    };
}

/// <summary>Turns a run's steps and evals into chart series, caching each one until the data or x axis changes.</summary>
public sealed class SeriesBuilder
{
    private readonly Dictionary<string, (StepSeries Source, int Version, XAxis Axis, int Count, int Rewrites, ChartSeries Series)> _cache = [];

    public ChartSeries Steps(string name, string color, StepSeries steps, XAxis axis, Func<StepMetricDto, double?> value)
    {
        if (_cache.TryGetValue(name, out var hit) && hit.Axis == axis && hit.Source == steps)
        {
            if (hit.Version == steps.Version)
            {
                return hit.Series;
            }
            // Live pushes only append: extend the cached points instead of rebuilding 50,000 of them. The chart keeps
            // summaries of these points that rely on it: the list grows in place only while nothing but appends happened.
            if (hit.Rewrites == steps.Rewrites && hit.Count <= steps.Count && hit.Series.Points is List<ChartPoint> cached)
            {
                for (var i = hit.Count; i < steps.Count; i++)
                {
                    if (value(steps.Steps[i]) is { } y) cached.Add(new ChartPoint(X(steps.Steps[i], axis), y));
                }
                var extended = hit.Series with { Version = steps.Version };
                _cache[name] = (steps, steps.Version, axis, steps.Count, steps.Rewrites, extended);
                return extended;
            }
        }
        var points = new List<ChartPoint>(steps.Count);
        foreach (var s in steps.Steps)
        {
            if (value(s) is { } y)
            {
                points.Add(new ChartPoint(X(s, axis), y));
            }
        }
        var series = new ChartSeries(name, color, points) { Version = steps.Version };
        _cache[name] = (steps, steps.Version, axis, steps.Count, steps.Rewrites, series);
        return series;
    }

    /// <summary>Val loss at each eval step, placed on the same x axis as the steps.</summary>
    public ChartSeries Evals(string name, string color, IReadOnlyList<EvalDto> evals, StepSeries steps, XAxis axis)
    {
        var key = name + "#evals";
        if (_cache.TryGetValue(key, out var hit) && hit.Source == steps && hit.Version == steps.Version && hit.Axis == axis && hit.Count == evals.Count)
        {
            return hit.Series;
        }
        var points = evals.Where(e => e.ValLoss is not null)
            .Select(e => new ChartPoint(XOfStep(steps, e.Step, axis), e.ValLoss!.Value))
            .Where(p => double.IsFinite(p.X))
            .ToList();
        var series = new ChartSeries(name, color, points, Markers: true) { Version = steps.Version * 1000 + evals.Count };
        _cache[key] = (steps, steps.Version, axis, evals.Count, steps.Rewrites, series);
        return series;
    }

    public static double X(StepMetricDto step, XAxis axis) => axis switch
    {
        XAxis.Tokens => step.TokensSeen,
        XAxis.Time => step.ElapsedSeconds,
        _ => step.Step,
    };

    private static double XOfStep(StepSeries steps, long step, XAxis axis)
    {
        if (axis == XAxis.Step)
        {
            return step;
        }
        var list = steps.Steps;
        int lo = 0, hi = list.Count - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (list[mid].Step == step) return X(list[mid], axis);
            if (list[mid].Step < step) lo = mid + 1; else hi = mid - 1;
        }
        return double.NaN;
    }
}
