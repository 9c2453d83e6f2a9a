using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR;
using WebLlm.Contracts;

namespace WebLlm.Server.Live;

/// <summary>
/// Who listens to what on the hub, and every push to them. Each connection gets its pushes through a queue of its
/// own, sent one at a time in order, so a client that reads slowly holds up nobody else and nothing that posts a push
/// ever waits for a client. A connection that falls <see cref="MaxQueuedPushes"/> behind, or whose send has not gone
/// out after <see cref="SendTimeout"/> (its socket buffers are full: it stopped reading), is disconnected: its
/// memory stays bounded, and the dashboard reconnects and fills the gap from REST. SignalR's own groups would
/// queue every later write to such a connection without limit, and a group send waits for its slowest member.
/// </summary>
public sealed class HubSubscribers(IHubContext<TrainingHub, ITrainingClient> hub, ILogger<HubSubscribers> log)
{
    public const int MaxQueuedPushes = 256;
    public static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, Subscriber> subscribers = new();
    private int dropped;

    /// <summary>Connections disconnected for not keeping up since the server started.</summary>
    public int Dropped => Volatile.Read(ref dropped);

    /// <summary>Hub connections open now.</summary>
    public int Count => subscribers.Count;

    public void Connected(HubCallerContext context)
    {
        var subscriber = new Subscriber(context);
        subscribers[context.ConnectionId] = subscriber;
        _ = PumpAsync(subscriber);
    }

    public void Disconnected(string connectionId)
    {
        if (subscribers.TryRemove(connectionId, out var s)) s.Queue.Writer.TryComplete();
    }

    public void Join(string connectionId, string group)
    {
        if (subscribers.TryGetValue(connectionId, out var s)) lock (s.Groups) s.Groups.Add(group);
    }

    public void Leave(string connectionId, string group)
    {
        if (subscribers.TryGetValue(connectionId, out var s)) lock (s.Groups) s.Groups.Remove(group);
    }

    /// <summary>Queues <paramref name="push"/> once for every connection in any of <paramref name="groups"/>; never waits.</summary>
    public void Send(IReadOnlyCollection<string> groups, Func<ITrainingClient, Task> push)
    {
        foreach (var s in subscribers.Values)
        {
            bool member;
            lock (s.Groups) member = s.Groups.Overlaps(groups);
            if (member && !s.Queue.Writer.TryWrite(push))
                Drop(s, $"it is over {MaxQueuedPushes} pushes behind");
        }
    }

    private async Task PumpAsync(Subscriber s)
    {
        var client = hub.Clients.Client(s.Context.ConnectionId);
        await foreach (var push in s.Queue.Reader.ReadAllAsync())
        {
            try
            {
                var send = push(client);
                if (await Task.WhenAny(send, Task.Delay(SendTimeout)) != send)
                {
                    Drop(s, $"a push has not gone out after {SendTimeout.TotalSeconds:F0} s");
                    return;
                }
                await send;
            }
            catch (Exception ex)
            {
                log.LogDebug(ex, "A hub push to {Connection} failed", s.Context.ConnectionId);
            }
        }
    }

    private void Drop(Subscriber s, string why)
    {
        if (!subscribers.TryRemove(s.Context.ConnectionId, out _)) return;
        Interlocked.Increment(ref dropped);
        log.LogWarning("Disconnecting hub client {Connection}: {Why}", s.Context.ConnectionId, why);
        s.Queue.Writer.TryComplete();
        s.Context.Abort();
    }

    private sealed class Subscriber(HubCallerContext context)
    {
        public HubCallerContext Context { get; } = context;
        public HashSet<string> Groups { get; } = [];
        public Channel<Func<ITrainingClient, Task>> Queue { get; } = Channel.CreateBounded<Func<ITrainingClient, Task>>(
            new BoundedChannelOptions(MaxQueuedPushes) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    }
}
