using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.SignalR.Client;
using WebLlm.Contracts;

namespace WebLlm.Client.Services;

public enum HubState { NotStarted, Connecting, Connected, Reconnecting, Disconnected }

/// <summary>What one run's group pushes; unset handlers ignore that push.</summary>
public sealed record RunHandlers
{
    public Action<IReadOnlyList<StepMetricDto>>? Steps { get; init; }
    public Action<EvalDto>? Eval { get; init; }
    public Action<SampleDto>? Sample { get; init; }
    public Action<CheckpointDto>? Checkpoint { get; init; }
    public Action<SystemMetricDto>? System { get; init; }
    public Action<RunDto>? RunUpdated { get; init; }
}

/// <summary>What the run-list group pushes.</summary>
public sealed record ListHandlers
{
    public Action<RunDto>? RunUpdated { get; init; }
    public Action<int>? RunDeleted { get; init; }
    public Action<DatasetDto>? DatasetUpdated { get; init; }
    public Action<int>? DatasetDeleted { get; init; }
}

/// <summary>
/// The one SignalR connection of the app. Subscriptions are typed and return <see cref="IDisposable"/>; the
/// hub group is joined on the first subscription and left on the last. The connection retries forever, and
/// after a reconnect it re-joins every group and raises <see cref="Reconnected"/> so stores refill from REST.
/// </summary>
public sealed class TrainingHub(NavigationManager navigation, ApiKeyStore keys) : IAsyncDisposable
{
    private readonly Dictionary<int, List<RunHandlers>> _runs = [];
    private readonly List<ListHandlers> _lists = [];
    private HubConnection? _connection;
    private CancellationTokenSource? _stopping;

    public HubState State { get; private set; } = HubState.NotStarted;

    /// <summary>The last connection error, for the disconnected banner.</summary>
    public string? LastError { get; private set; }

    public event Action? StateChanged;

    /// <summary>Raised after every (re)connect, once every group was (re)joined: time to fill gaps from REST.</summary>
    public event Func<Task>? Reconnected;

    /// <summary>Starts the connection (idempotent); keeps trying until it connects or the app goes away.</summary>
    public Task StartAsync()
    {
        if (_connection is not null)
        {
            return Task.CompletedTask;
        }
        _stopping = new CancellationTokenSource();
        _connection = new HubConnectionBuilder()
            .WithUrl(navigation.ToAbsoluteUri(ApiRoutes.TrainingHub.TrimStart('/')), options =>
            {
                // Asked on every (re)connect, so a key entered after a 401 is used by the next attempt.
                options.AccessTokenProvider = async () =>
                {
                    await keys.EnsureLoadedAsync();
                    return keys.Key;
                };
            })
            .AddJsonProtocol(options => options.PayloadSerializerOptions.TypeInfoResolverChain.Insert(0, HubJson.Default))
            .WithAutomaticReconnect(new RetryForeverPolicy())
            .Build();
        Register(_connection);
        _connection.Reconnecting += error =>
        {
            LastError = error?.Message;
            SetState(HubState.Reconnecting);
            return Task.CompletedTask;
        };
        _connection.Reconnected += async _ =>
        {
            SetState(HubState.Connected);
            await JoinAllAsync();
            await RaiseReconnectedAsync();
        };
        // Automatic reconnect gives up only if the policy does (never); Closed still covers a failed first start.
        _connection.Closed += error =>
        {
            LastError = error?.Message;
            SetState(HubState.Disconnected);
            return ConnectLoopAsync(_stopping.Token);
        };
        return ConnectLoopAsync(_stopping.Token);
    }

    /// <summary>
    /// Joins the run's group (on the first subscription). Await <see cref="Subscription.Joined"/> before reading
    /// history over REST so that no push falls between the snapshot and the stream.
    /// </summary>
    public Subscription SubscribeRun(int runId, RunHandlers handlers)
    {
        if (!_runs.TryGetValue(runId, out var list))
        {
            _runs[runId] = list = [];
        }
        list.Add(handlers);
        var joined = list.Count == 1 ? InvokeIfConnectedAsync(TrainingHubMethods.SubscribeRun, runId) : Task.CompletedTask;
        return new Subscription(joined, () =>
        {
            list.Remove(handlers);
            if (list.Count == 0)
            {
                _runs.Remove(runId);
                _ = InvokeIfConnectedAsync(TrainingHubMethods.UnsubscribeRun, runId);
            }
        });
    }

    public Subscription SubscribeRuns(ListHandlers handlers)
    {
        _lists.Add(handlers);
        var joined = _lists.Count == 1 ? InvokeIfConnectedAsync(TrainingHubMethods.SubscribeRuns, null) : Task.CompletedTask;
        return new Subscription(joined, () =>
        {
            _lists.Remove(handlers);
            if (_lists.Count == 0)
            {
                _ = InvokeIfConnectedAsync(TrainingHubMethods.UnsubscribeRuns, null);
            }
        });
    }

    /// <summary>Runs currently joined (for tests and diagnostics).</summary>
    public IReadOnlyCollection<int> SubscribedRuns => _runs.Keys;

    public bool ListSubscribed => _lists.Count > 0;

    public async ValueTask DisposeAsync()
    {
        _stopping?.Cancel();
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
        _stopping?.Dispose();
    }

    private void Register(HubConnection connection)
    {
        connection.On<int, byte[]>(nameof(ITrainingClient.StepMetrics), (id, steps) => ForRun(id, h => h.Steps?.Invoke(StepColumns.Decode(steps))));
        connection.On<int, EvalDto>(nameof(ITrainingClient.Eval), (id, eval) => ForRun(id, h => h.Eval?.Invoke(eval)));
        connection.On<int, SampleDto>(nameof(ITrainingClient.Sample), (id, sample) => ForRun(id, h => h.Sample?.Invoke(sample)));
        connection.On<int, CheckpointDto>(nameof(ITrainingClient.Checkpoint), (id, checkpoint) => ForRun(id, h => h.Checkpoint?.Invoke(checkpoint)));
        connection.On<int, SystemMetricDto>(nameof(ITrainingClient.SystemMetrics), (id, metrics) => ForRun(id, h => h.System?.Invoke(metrics)));
        connection.On<RunDto>(nameof(ITrainingClient.RunUpdated), run =>
        {
            ForRun(run.Id, h => h.RunUpdated?.Invoke(run));
            ForLists(h => h.RunUpdated?.Invoke(run));
        });
        connection.On<int>(nameof(ITrainingClient.RunDeleted), id => ForLists(h => h.RunDeleted?.Invoke(id)));
        connection.On<DatasetDto>(nameof(ITrainingClient.DatasetUpdated), dataset => ForLists(h => h.DatasetUpdated?.Invoke(dataset)));
        connection.On<int>(nameof(ITrainingClient.DatasetDeleted), id => ForLists(h => h.DatasetDeleted?.Invoke(id)));
    }

    private void ForRun(int runId, Action<RunHandlers> call)
    {
        if (_runs.TryGetValue(runId, out var list))
        {
            foreach (var handlers in list.ToArray())
            {
                call(handlers);
            }
        }
    }

    private void ForLists(Action<ListHandlers> call)
    {
        foreach (var handlers in _lists.ToArray())
        {
            call(handlers);
        }
    }

    private async Task ConnectLoopAsync(CancellationToken stopping)
    {
        for (var attempt = 0L; !stopping.IsCancellationRequested; attempt++)
        {
            SetState(attempt == 0 && State == HubState.NotStarted ? HubState.Connecting : HubState.Reconnecting);
            try
            {
                await _connection!.StartAsync(stopping);
                LastError = null;
                SetState(HubState.Connected);
                await JoinAllAsync();
                // Also after the first connect: whatever loaded over REST before it needs its gap filled.
                await RaiseReconnectedAsync();
                return;
            }
            catch (Exception e) when (!stopping.IsCancellationRequested)
            {
                LastError = e.Message;
                SetState(HubState.Disconnected);
                await Task.Delay(RetryForeverPolicy.DelayFor(attempt + 1), stopping);
            }
        }
    }

    private async Task RaiseReconnectedAsync()
    {
        if (Reconnected is { } handler)
        {
            foreach (var each in handler.GetInvocationList().Cast<Func<Task>>())
            {
                await each();
            }
        }
    }

    private async Task JoinAllAsync()
    {
        foreach (var runId in _runs.Keys.ToArray())
        {
            await InvokeIfConnectedAsync(TrainingHubMethods.SubscribeRun, runId);
        }
        if (_lists.Count > 0)
        {
            await InvokeIfConnectedAsync(TrainingHubMethods.SubscribeRuns, null);
        }
    }

    private async Task InvokeIfConnectedAsync(string method, int? runId)
    {
        if (_connection is not { State: HubConnectionState.Connected })
        {
            return; // joined on (re)connect by JoinAllAsync
        }
        try
        {
            if (runId is { } id)
            {
                await _connection.InvokeAsync(method, id);
            }
            else
            {
                await _connection.InvokeAsync(method);
            }
        }
        catch (Exception e)
        {
            // The connection dropped mid-call; the reconnect re-joins every group.
            LastError = e.Message;
        }
    }

    private void SetState(HubState state)
    {
        if (State != state)
        {
            State = state;
            StateChanged?.Invoke();
        }
    }
}

/// <summary>A subscription: dispose to leave. <see cref="Joined"/> completes once the server confirmed the join.</summary>
public sealed class Subscription(Task joined, Action dispose) : IDisposable
{
    private Action? _dispose = dispose;

    public Task Joined { get; } = joined;

    public static Subscription Of(Action dispose) => new(Task.CompletedTask, dispose);

    public void Dispose()
    {
        _dispose?.Invoke();
        _dispose = null;
    }
}
