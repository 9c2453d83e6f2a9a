namespace WebLlm.Client.Components;

/// <summary>
/// Coalesces store change events into at most one render per <paramref name="interval"/>: a run pushes steps
/// about ten times a second, and WebAssembly has one thread for rendering and input.
/// </summary>
public sealed class RenderThrottle(Func<Func<Task>, Task> invokeAsync, Action render, TimeSpan interval)
{
    private DateTime _last = DateTime.MinValue;
    private bool _pending;

    public void Request()
    {
        if (_pending)
        {
            return;
        }
        var wait = _last + interval - DateTime.UtcNow;
        if (wait <= TimeSpan.Zero)
        {
            _last = DateTime.UtcNow;
            _ = invokeAsync(() => { render(); return Task.CompletedTask; });
            return;
        }
        _pending = true;
        _ = Task.Delay(wait).ContinueWith(_ => invokeAsync(() =>
        {
            _pending = false;
            _last = DateTime.UtcNow;
            render();
            return Task.CompletedTask;
        }), TaskScheduler.Default);
    }
}
