using Microsoft.AspNetCore.SignalR;
using WebLlm.Contracts;

namespace WebLlm.Server.Live;

/// <summary>
/// Subscriptions only: control goes through REST. A client joins a run's group before fetching its history
/// over REST; the broadcaster pushes only committed rows, so history + stream has no gap (the client drops
/// steps it already has). Groups are kept by <see cref="HubSubscribers"/>, which sends to each connection on its own.
/// </summary>
public sealed class TrainingHub(HubSubscribers subscribers) : Hub<ITrainingClient>
{
    public override Task OnConnectedAsync()
    {
        subscribers.Connected(Context);
        return Task.CompletedTask;
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        subscribers.Disconnected(Context.ConnectionId);
        return Task.CompletedTask;
    }

    public void SubscribeRun(int runId) => subscribers.Join(Context.ConnectionId, Broadcaster.RunGroup(runId));
    public void UnsubscribeRun(int runId) => subscribers.Leave(Context.ConnectionId, Broadcaster.RunGroup(runId));
    public void SubscribeRuns() => subscribers.Join(Context.ConnectionId, Broadcaster.RunsGroup);
    public void UnsubscribeRuns() => subscribers.Leave(Context.ConnectionId, Broadcaster.RunsGroup);
}
