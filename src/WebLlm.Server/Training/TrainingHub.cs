using Microsoft.AspNetCore.SignalR;
using WebLlm.Contracts;

namespace WebLlm.Server.Training;

/// <summary>
/// Subscriptions only: control goes through REST. A client joins a run's group before fetching its history
/// over REST; the broadcaster pushes only committed rows, so history + stream has no gap (the client drops
/// steps it already has).
/// </summary>
public sealed class TrainingHub : Hub<ITrainingClient>
{
    public Task SubscribeRun(int runId) => Groups.AddToGroupAsync(Context.ConnectionId, Broadcaster.RunGroup(runId));
    public Task UnsubscribeRun(int runId) => Groups.RemoveFromGroupAsync(Context.ConnectionId, Broadcaster.RunGroup(runId));
    public Task SubscribeRuns() => Groups.AddToGroupAsync(Context.ConnectionId, Broadcaster.RunsGroup);
    public Task UnsubscribeRuns() => Groups.RemoveFromGroupAsync(Context.ConnectionId, Broadcaster.RunsGroup);
}
