using WebLlm.Contracts;

namespace WebLlm.Client.Services;

/// <summary>Everything the client knows about one run.</summary>
public sealed class RunState(int id)
{
    public int Id { get; } = id;
    public RunDto? Run { get; internal set; }
    public StepSeries Steps { get; } = new();
    public List<EvalDto> Evals { get; } = [];
    public List<SampleDto> Samples { get; } = [];
    public List<CheckpointDto> Checkpoints { get; } = [];
    public List<SystemMetricDto> System { get; } = [];
    /// <summary>True until the first REST snapshot was merged.</summary>
    public bool Loading { get; internal set; } = true;
    public string? Error { get; internal set; }

    internal int Watchers;
    internal Subscription? Hub;
    /// <summary>Pushes wait here while a REST snapshot is in flight (see <see cref="SnapshotFeed"/>).</summary>
    public SnapshotFeed Feed { get; } = new();
}

/// <summary>
/// The client's one state store: the runs list, datasets, and per watched run its metrics, evals, samples,
/// checkpoints and system metrics. Joins the hub group first, buffers pushes, reads REST, then merges, so a
/// late join or a reconnect leaves every step exactly once. Pages watch, listen to <see cref="Changed"/>
/// and dispose.
/// </summary>
public sealed class RunStore : IDisposable
{
    private readonly WebLlmApi _api;
    private readonly TrainingHub _hub;
    private readonly Dictionary<int, RunState> _states = [];
    private readonly Dictionary<int, RunDto> _runs = [];
    private readonly Dictionary<int, DatasetDto> _datasets = [];
    /// <summary>Hub updates seen per run, so a REST answer that raced a newer push does not overwrite it.</summary>
    private readonly Dictionary<int, int> _pushes = [];
    private int _listWatchers;
    private Subscription? _listHub;
    private readonly SnapshotFeed _listFeed = new();

    public RunStore(WebLlmApi api, TrainingHub hub)
    {
        _api = api;
        _hub = hub;
        _hub.Reconnected += RefillAsync;
    }

    public event Action? Changed;

    public IReadOnlyList<RunDto> Runs => [.. _runs.Values.OrderByDescending(r => r.Id)];

    public IReadOnlyList<DatasetDto> Datasets => [.. _datasets.Values.OrderBy(d => d.Id)];

    public bool ListLoaded { get; private set; }

    public string? ListError { get; private set; }

    public RunState Get(int runId) => _states.TryGetValue(runId, out var state) ? state : _states[runId] = new RunState(runId);

    /// <summary>Keeps the run list and datasets live until disposed.</summary>
    public IDisposable WatchList()
    {
        if (_listWatchers++ == 0)
        {
            _listHub = _hub.SubscribeRuns(new ListHandlers
            {
                RunUpdated = run => OnList(() => Pushed(run)),
                RunDeleted = id => OnList(() => _runs.Remove(id)),
                DatasetUpdated = dataset => OnList(() => SetDataset(dataset)),
                DatasetDeleted = id => OnList(() => _datasets.Remove(id)),
            });
            _ = LoadListAsync();
        }
        return Subscription.Of(() =>
        {
            if (--_listWatchers == 0)
            {
                _listHub?.Dispose();
                _listHub = null;
            }
        });
    }

    /// <summary>Keeps one run's streams live until disposed; the history is loaded once and kept.</summary>
    public IDisposable WatchRun(int runId)
    {
        var state = Get(runId);
        if (state.Watchers++ == 0)
        {
            state.Hub = _hub.SubscribeRun(runId, new RunHandlers
            {
                Steps = steps => OnRun(state, () => state.Steps.Merge(steps)),
                Eval = eval => OnRun(state, () => Upsert(state.Evals, eval, e => e.Step)),
                Sample = sample => OnRun(state, () => Upsert(state.Samples, sample, s => (s.Step, s.Prompt))),
                Checkpoint = checkpoint => OnRun(state, () => Upsert(state.Checkpoints, checkpoint, c => c.Step)),
                System = metrics => OnRun(state, () => Upsert(state.System, metrics, m => m.Utc)),
                RunUpdated = run => OnRun(state, () => { SetRun(state, run); Pushed(run); }),
            });
            _ = LoadRunAsync(state);
        }
        return Subscription.Of(() =>
        {
            if (--state.Watchers == 0)
            {
                state.Hub?.Dispose();
                state.Hub = null;
            }
        });
    }

    /// <summary>Marks the moment before a REST call that changes a run; pass it to <see cref="Apply"/>.</summary>
    public int Mark(int runId) => _pushes.GetValueOrDefault(runId);

    /// <summary>
    /// Puts a run the client just changed (created, paused…) into the store without waiting for the hub, unless
    /// the hub already delivered a newer state of it since <paramref name="mark"/> (the push then wins).
    /// </summary>
    public void Apply(RunDto run, int mark = 0)
    {
        if (_pushes.GetValueOrDefault(run.Id) != mark)
        {
            return;
        }
        _runs[run.Id] = run;
        if (_states.TryGetValue(run.Id, out var state))
        {
            SetRun(state, run);
        }
        Changed?.Invoke();
    }

    public void ApplyDataset(DatasetDto dataset)
    {
        SetDataset(dataset);
        Changed?.Invoke();
    }

    private void Pushed(RunDto run)
    {
        _pushes[run.Id] = _pushes.GetValueOrDefault(run.Id) + 1;
        _runs[run.Id] = run;
    }

    /// <summary>Preparation only moves forward: a late "Preparing" answer never hides a pushed Ready or Failed.</summary>
    private void SetDataset(DatasetDto dataset)
    {
        if (_datasets.TryGetValue(dataset.Id, out var held) && held.Status != DatasetStatus.Preparing && dataset.Status == DatasetStatus.Preparing)
        {
            return;
        }
        _datasets[dataset.Id] = dataset;
    }

    public void ForgetRun(int runId)
    {
        _runs.Remove(runId);
        Changed?.Invoke();
    }

    public void ForgetDataset(int datasetId)
    {
        _datasets.Remove(datasetId);
        Changed?.Invoke();
    }

    public void Dispose() => _hub.Reconnected -= RefillAsync;

    /// <summary>
    /// Merges a REST snapshot of one run with the pushes buffered while it was in flight: the steps after the
    /// last one held, and the full evals, samples, checkpoints and system metrics.
    /// </summary>
    public static void MergeSnapshot(
        RunState state, RunDto run, IEnumerable<StepMetricDto> steps, IEnumerable<EvalDto> evals,
        IEnumerable<SampleDto> samples, IEnumerable<CheckpointDto> checkpoints, IEnumerable<SystemMetricDto> system)
    {
        SetRun(state, run);
        state.Steps.Merge(steps);
        foreach (var eval in evals) Upsert(state.Evals, eval, e => e.Step);
        foreach (var sample in samples) Upsert(state.Samples, sample, s => (s.Step, s.Prompt));
        foreach (var checkpoint in checkpoints) Upsert(state.Checkpoints, checkpoint, c => c.Step);
        foreach (var metrics in system) Upsert(state.System, metrics, m => m.Utc);
    }

    private void OnRun(RunState state, Action apply)
    {
        if (state.Feed.Push(apply))
        {
            if (state.Run is { } run)
            {
                _runs[run.Id] = run;
            }
            Changed?.Invoke();
        }
    }

    private void OnList(Action apply)
    {
        if (_listFeed.Push(apply)) Changed?.Invoke();
    }

    private Task LoadRunAsync(RunState state) => state.Feed.LoadAsync(async () =>
    {
        try
        {
            await (state.Hub?.Joined ?? Task.CompletedTask);
            var id = state.Id;
            var run = _api.GetRunAsync(id);
            var steps = _api.GetAllMetricsAsync(id, state.Steps.LastStep + 1); // from the last step held
            var evals = _api.GetEvalsAsync(id);
            var samples = _api.GetSamplesAsync(id);
            var checkpoints = _api.GetCheckpointsAsync(id);
            var system = OptionalAsync(_api.GetSystemMetricsAsync(id));
            MergeSnapshot(state, await run, await steps, await evals, await samples, await checkpoints, await system);
            _runs[id] = state.Run!;
            state.Error = null;
        }
        catch (Exception e) when (e is ApiProblem or HttpRequestException or System.Text.Json.JsonException or FormatException)
        {
            state.Error = e is ApiProblem problem ? problem.Summary : e.Message;
        }
    }, loaded: () =>
    {
        state.Loading = false;
        Changed?.Invoke();
    }, watched: () => state.Watchers > 0);

    private Task LoadListAsync() => _listFeed.LoadAsync(async () =>
    {
        try
        {
            await (_listHub?.Joined ?? Task.CompletedTask);
            var runs = _api.GetRunsAsync();
            var datasets = _api.GetDatasetsAsync();
            _runs.Clear();
            foreach (var run in await runs) _runs[run.Id] = run;
            _datasets.Clear();
            foreach (var dataset in await datasets) SetDataset(dataset);
            ListError = null;
        }
        catch (Exception e) when (e is ApiProblem or HttpRequestException or System.Text.Json.JsonException)
        {
            ListError = e is ApiProblem problem ? problem.Summary : e.Message;
        }
    }, loaded: () =>
    {
        ListLoaded = true;
        Changed?.Invoke();
    }, watched: () => _listWatchers > 0);

    private async Task RefillAsync()
    {
        var loads = _states.Values.Where(s => s.Watchers > 0).Select(LoadRunAsync).ToList();
        if (_listWatchers > 0)
        {
            loads.Add(LoadListAsync());
        }
        await Task.WhenAll(loads);
    }

    /// <summary>System metrics are optional: an older server without the endpoint still shows the run.</summary>
    private static async Task<List<SystemMetricDto>> OptionalAsync(Task<List<SystemMetricDto>> load)
    {
        try
        {
            return await load;
        }
        catch (ApiProblem problem) when (problem.Status == System.Net.HttpStatusCode.NotFound)
        {
            return [];
        }
    }

    /// <summary>
    /// Takes the newer summary. A status change is ordered with the steps on the server, so a step count below
    /// what is held then means the run went back to a checkpoint (restart, resume): the later steps, evals and
    /// samples are gone on the server and will be trained again, so they go here too.
    /// </summary>
    private static void SetRun(RunState state, RunDto run)
    {
        if (state.Run is { } old && old.Status != run.Status && run.CurrentStep < state.Steps.LastStep)
        {
            state.Steps.TruncateAfter(run.CurrentStep);
            state.Evals.RemoveAll(e => e.Step > run.CurrentStep);
            state.Samples.RemoveAll(s => s.Step > run.CurrentStep);
            state.Checkpoints.RemoveAll(c => c.Step > run.CurrentStep);
        }
        state.Run = run;
    }

    private static void Upsert<T, TKey>(List<T> list, T item, Func<T, TKey> key) where TKey : IComparable<TKey>
    {
        var k = key(item);
        var index = list.FindIndex(x => key(x).CompareTo(k) >= 0);
        if (index < 0)
        {
            list.Add(item);
        }
        else if (key(list[index]).CompareTo(k) == 0)
        {
            list[index] = item;
        }
        else
        {
            list.Insert(index, item);
        }
    }
}
