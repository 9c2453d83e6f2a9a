using Microsoft.AspNetCore.Components;
using WebLlm.Client.Services;

namespace WebLlm.Client.Components;

/// <summary>
/// A page that shows store data: listens to <see cref="RunStore.Changed"/> (re-rendering through a
/// <see cref="RenderThrottle"/>), keeps the watches it opens, and lets go of both when disposed.
/// </summary>
public abstract class StorePage : ComponentBase, IDisposable
{
    private readonly List<IDisposable> _watches = [];
    private RenderThrottle? _throttle;

    [Inject] protected RunStore Store { get; set; } = null!;

    protected override void OnInitialized() => Store.Changed += OnStoreChanged;

    /// <summary>Keeps a watch (or any subscription) until the page goes away.</summary>
    protected void Keep(IDisposable watch) => _watches.Add(watch);

    protected virtual void OnStoreChanged() =>
        (_throttle ??= RenderThrottle.ForLiveData(InvokeAsync, StateHasChanged)).Request();

    public virtual void Dispose()
    {
        Store.Changed -= OnStoreChanged;
        foreach (var watch in _watches)
        {
            watch.Dispose();
        }
        GC.SuppressFinalize(this);
    }
}
