using System.Diagnostics;

namespace WebLlm.Client.Components;

/// <summary>
/// Coalesces store change events into at most one render per interval: a run pushes steps about ten times a
/// second, and WebAssembly has one thread for rendering and input. The interval stretches to three times the
/// last render's duration, so however large the charts get, most of the time is left for the user's input.
/// </summary>
public sealed class RenderThrottle(Func<Func<Task>, Task> invokeAsync, Action render, TimeSpan interval)
{
    private DateTime _last = DateTime.MinValue;
    private TimeSpan _lastDuration;
    private bool _pending;

    public void Request()
    {
        if (_pending)
        {
            return;
        }
        _pending = true;
        var gap = interval > 3 * _lastDuration ? interval : 3 * _lastDuration;
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
