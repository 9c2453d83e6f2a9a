using System.Diagnostics;

namespace WebLlm.Client.Components;

/// <summary>
/// Coalesces store change events into at most one render per interval: a run pushes steps several times a
/// second, and WebAssembly has one thread for rendering and input. The interval also stretches so that rendering
/// takes at most <c>busyShare</c> of the time (e.g. 10%: the gap is at least ten times the last render), so
/// however large the charts get, most of the time is left for the user's input and, when the browser runs on
/// the training machine, for the training. Renders that must wait land on whole multiples of the interval on the
/// clock, so the live regions of a page (same interval, same pushes) draw in one browser frame, not one each.
/// </summary>
public sealed class RenderThrottle(Func<Func<Task>, Task> invokeAsync, Action render, TimeSpan interval, double busyShare)
{
    private DateTime _last = DateTime.MinValue;
    private TimeSpan _lastDuration;
    private bool _pending;

    /// <summary>The default gap between live renders: two a second.</summary>
    public static readonly TimeSpan LiveInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// What live training data gets: two renders a second (or <paramref name="interval"/>), fewer when a render is
    /// slow. People read a curve's trend, not every step; on a 2-core machine training next to the browser, every
    /// render is taken from libtorch.
    /// </summary>
    public static RenderThrottle ForLiveData(Func<Func<Task>, Task> invokeAsync, Action render, TimeSpan? interval = null) =>
        new(invokeAsync, render, interval ?? LiveInterval, busyShare: 0.1);

    public void Request()
    {
        if (_pending)
        {
            return;
        }
        _pending = true;
        var stretched = _lastDuration / busyShare;
        var gap = interval > stretched ? interval : stretched;
        var wait = NextRender(_last, gap, interval) - DateTime.UtcNow;
        if (wait <= TimeSpan.Zero)
        {
            _ = invokeAsync(RenderNow);
            return;
        }
        _ = Task.Delay(wait).ContinueWith(_ => invokeAsync(RenderNow), TaskScheduler.Default);
    }

    /// <summary>
    /// When the next render may start: <paramref name="gap"/> after the last one started, moved on to the next whole
    /// multiple of <paramref name="interval"/> on the clock. A tenth of the interval of slack keeps a timer that fired
    /// a little late from pushing the render a whole interval further.
    /// </summary>
    public static DateTime NextRender(DateTime lastStart, TimeSpan gap, TimeSpan interval)
    {
        var due = lastStart + gap;
        if (interval <= TimeSpan.Zero || lastStart == DateTime.MinValue)
        {
            return due;
        }
        var earliest = (due - interval / 10).Ticks;
        var aligned = (earliest + interval.Ticks - 1) / interval.Ticks * interval.Ticks;
        return new DateTime(aligned, DateTimeKind.Utc);
    }

    private Task RenderNow()
    {
        _pending = false;
        _last = DateTime.UtcNow;
        var start = Stopwatch.GetTimestamp();
        render();
        _lastDuration = Stopwatch.GetElapsedTime(start);
        return Task.CompletedTask;
    }
}
