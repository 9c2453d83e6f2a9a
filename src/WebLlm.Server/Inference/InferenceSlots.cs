using Microsoft.Extensions.Options;

namespace WebLlm.Server.Inference;

/// <summary>
/// Bounded concurrency for generations: <see cref="InferenceOptions.Slots"/> run at once, up to
/// <see cref="InferenceOptions.QueueLength"/> wait (first come, first served as far as the semaphore goes),
/// and anything beyond is refused at once so the endpoint can answer 429 with Retry-After.
/// Also keeps counters the tests and the benchmark read.
/// </summary>
public sealed class InferenceSlots(IOptions<InferenceOptions> options) : IDisposable
{
    private readonly InferenceOptions settings = options.Value;
    private readonly SemaphoreSlim free = new(options.Value.Slots, options.Value.Slots);
    private int waiting;
    private long tokens, started, cancelled, timedOut, rejected;

    public int Capacity => settings.Slots;
    /// <summary>Slots in use right now.</summary>
    public int Active => settings.Slots - free.CurrentCount;
    public int Waiting => Volatile.Read(ref waiting);
    /// <summary>Tokens decoded by every generation so far.</summary>
    public long TokensGenerated => Interlocked.Read(ref tokens);
    public long Started => Interlocked.Read(ref started);
    public long Cancelled => Interlocked.Read(ref cancelled);
    public long TimedOut => Interlocked.Read(ref timedOut);
    public long Rejected => Interlocked.Read(ref rejected);

    /// <summary>A slot, after waiting in the queue if need be; null when the queue is full too.</summary>
    public async Task<Slot?> TryAcquireAsync(CancellationToken cancellationToken)
    {
        if (!free.Wait(0))
        {
            if (Interlocked.Increment(ref waiting) > settings.QueueLength)
            {
                Interlocked.Decrement(ref waiting);
                Interlocked.Increment(ref rejected);
                return null;
            }
            try { await free.WaitAsync(cancellationToken); }
            finally { Interlocked.Decrement(ref waiting); }
        }
        Interlocked.Increment(ref started);
        return new Slot(this);
    }

    internal void CountToken() => Interlocked.Increment(ref tokens);
    internal void CountCancelled() => Interlocked.Increment(ref cancelled);
    internal void CountTimedOut() => Interlocked.Increment(ref timedOut);

    public void Dispose() => free.Dispose();

    /// <summary>Held for the whole generation; disposing it (once) frees the slot for the next request.</summary>
    public sealed class Slot(InferenceSlots owner) : IDisposable
    {
        private int released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0) owner.free.Release();
        }
    }
}
