namespace WebLlm.Contracts;

/// <summary>
/// What the server pushes over the SignalR hub at <see cref="ApiRoutes.TrainingHub"/>.
/// Clients call <c>SubscribeRun(runId)</c> / <c>UnsubscribeRun(runId)</c> for one run's stream and
/// <c>SubscribeRuns()</c> / <c>UnsubscribeRuns()</c> for the run and dataset lists. Control (launch, pause,
/// stop) goes through REST, never the hub.
/// </summary>
public interface ITrainingClient
{
    /// <summary>
    /// Every step since the previous push, in order, as <see cref="StepColumns"/> (<see cref="StepColumns.Decode"/>
    /// gives the steps back); about one push a second per run while it trains.
    /// </summary>
    Task StepMetrics(int runId, byte[] steps);
    Task Eval(int runId, EvalDto eval);
    Task Sample(int runId, SampleDto sample);
    Task Checkpoint(int runId, CheckpointDto checkpoint);
    Task SystemMetrics(int runId, SystemMetricDto metrics);
    /// <summary>A run changed status or its summary moved on (sent to the run's group and to list subscribers).</summary>
    Task RunUpdated(RunDto run);
    Task RunDeleted(int runId);
    Task DatasetUpdated(DatasetDto dataset);
    Task DatasetDeleted(int datasetId);
}

/// <summary>Names of the hub's server methods, for <c>HubConnection.InvokeAsync</c>.</summary>
public static class TrainingHubMethods
{
    public const string SubscribeRun = "SubscribeRun";
    public const string UnsubscribeRun = "UnsubscribeRun";
    public const string SubscribeRuns = "SubscribeRuns";
    public const string UnsubscribeRuns = "UnsubscribeRuns";
}
