using System.Diagnostics;

namespace WebLlm.Client.Components;

/// <summary>
/// Coalesces store change events into at most one render per interval: a run pushes steps several times a
/// second, and WebAssembly has one thread for rendering and input. The interval also stretches so that rendering
/// takes at most <c>busyShare</c> of the time (e.g. 10%: the gap is at least ten times the last render), so
/// however large the charts get, most of the time is left for the user's input and, when the browser runs on
/// the training machine, for the training.
/// </summary>
public sealed class RenderThrottle(Func<Func<Task>, Task> invokeAsync, Action render, TimeSpan interval, double busyShare)
{
    private DateTime _last = DateTime.MinValue;
    private TimeSpan _lastDuration;
    private bool _pending;

    /// <summary>
    /// What live training data gets: two renders a second, fewer when a render is slow. People read a curve's
    /// trend, not every step; on a 2-core machine training next to the browser, every render is taken from libtorch.
    /// </summary>
    public static RenderThrottle ForLiveData(Func<Func<Task>, Task> invokeAsync, Action render) =>
        new(invokeAsync, render, TimeSpan.FromMilliseconds(500), busyShare: 0.1);

    public void Request()
    {
        if (_pending)
        {
            return;
        }
        _pending = true;
        var stretched = _lastDuration / busyShare;
        var gap = interval > stretched ? interval : stretched;
        var wait = _last + gap - DateTime.UtcNow;
        if (wait <= TimeSpan.Zero)
        {
            _ = invokeAsync(RenderNow);
            return;
        }
        _ = Task.Delay(wait).ContinueWith(_ => invokeAsync(RenderNow), TaskScheduler.Default);
    }

    private Task RenderNow()
    {
        _pending = false;
        var start = Stopwatch.GetTimestamp();
        render();
        _lastDuration = Stopwatch.GetElapsedTime(start);
        _last = DateTime.UtcNow;
        return Task.CompletedTask;
    }
}
