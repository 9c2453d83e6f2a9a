using WebLlm.Contracts;

namespace WebLlm.Client.Services;

/// <summary>
/// A run's step metrics: every step once, strictly increasing. Merging accepts batches in any order and with
/// overlaps (REST history, buffered hub pushes, a refill after reconnecting); a step already present is kept.
/// </summary>
public sealed class StepSeries
{
    private readonly List<StepMetricDto> _steps = [];

    public IReadOnlyList<StepMetricDto> Steps => _steps;

    public int Count => _steps.Count;

    public long LastStep => _steps.Count > 0 ? _steps[^1].Step : 0;

    /// <summary>Bumped by every change, so views can cache what they derive from the series.</summary>
    public int Version { get; private set; }

    /// <summary>
    /// Bumped by every change that is not an append (an insert before the end, a truncation, a clear): a view that
    /// extends what it derived with the new tail must start over instead. After a resume from an older checkpoint the
    /// same step numbers come back with new values, so the last step alone cannot tell.
    /// </summary>
    public int Rewrites { get; private set; }

    /// <summary>Adds the steps not present yet; returns how many were added.</summary>
    public int Merge(IEnumerable<StepMetricDto> steps)
    {
        var added = 0;
        foreach (var step in steps)
        {
            if (_steps.Count == 0 || step.Step > _steps[^1].Step)
            {
                _steps.Add(step); // the common case: a live push after the last step
                added++;
                continue;
            }
            var index = IndexOf(step.Step);
            if (index < 0)
            {
                _steps.Insert(~index, step);
                added++;
                Rewrites++;
            }
        }
        if (added > 0)
        {
            Version++;
        }
        return added;
    }

    /// <summary>Drops every step after <paramref name="step"/> (a run resumed from an older checkpoint rewrites them).</summary>
    public void TruncateAfter(long step)
    {
        var index = IndexOf(step + 1);
        var from = index < 0 ? ~index : index;
        if (from < _steps.Count)
        {
            _steps.RemoveRange(from, _steps.Count - from);
            Version++;
            Rewrites++;
        }
    }

    public void Clear()
    {
        _steps.Clear();
        Version++;
        Rewrites++;
    }

    private int IndexOf(long step)
    {
        int lo = 0, hi = _steps.Count - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var value = _steps[mid].Step;
            if (value == step)
            {
                return mid;
            }
            if (value < step)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return ~lo;
    }
}
