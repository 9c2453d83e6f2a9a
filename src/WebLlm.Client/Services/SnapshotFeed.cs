namespace WebLlm.Client.Services;

/// <summary>
/// The order that makes a live view exact, for one run or for the runs list: join the hub group, buffer the pushes
/// that arrive while a REST snapshot is read, merge the snapshot, then apply the buffered pushes in arrival order. A
/// (re)join while a snapshot is being read asks for one more read (that snapshot may predate the join, and what was
/// committed in between would be in neither), so a late join or a reconnect leaves every item exactly once.
/// </summary>
public sealed class SnapshotFeed
{
    private List<Action>? buffer;
    private bool readAgain;

    /// <summary>Applies a push now (true), or after the snapshot being read (false).</summary>
    public bool Push(Action apply)
    {
        if (buffer is { } waiting)
        {
            waiting.Add(apply);
            return false;
        }
        apply();
        return true;
    }

    public void BeginBuffering() => buffer ??= [];

    /// <summary>Applies the pushes buffered since <see cref="BeginBuffering"/>, in arrival order.</summary>
    public void EndBuffering()
    {
        var buffered = buffer;
        buffer = null;
        foreach (var apply in buffered ?? []) apply();
    }

    /// <summary>
    /// Reads a snapshot with <paramref name="read"/> (which merges it and handles its own errors) while pushes wait, then
    /// applies them and calls <paramref name="loaded"/>; reads again when asked during the read and still <paramref name="watched"/>.
    /// </summary>
    public async Task LoadAsync(Func<Task> read, Action loaded, Func<bool> watched)
    {
        if (buffer is not null)
        {
            readAgain = true;
            return;
        }
        do
        {
            readAgain = false;
            BeginBuffering();
            try
            {
                await read();
            }
            finally
            {
                EndBuffering();
                loaded();
            }
        }
        while (readAgain && watched());
    }
}
