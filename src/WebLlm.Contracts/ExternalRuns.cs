using System.Text.Json.Serialization;

namespace WebLlm.Contracts;

/// <summary>
/// <c>POST /api/runs/external</c>: a run that another engine (llm.c, nanoGPT, anything) trains, whose metrics
/// arrive through <see cref="IngestMetricsRequest"/>. Requires the API key.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateExternalRunRequest
{
    public string Name { get; init; } = "";
    /// <summary>Free text shown in the UI, e.g. "llm.c" or "nanoGPT".</summary>
    public string Engine { get; init; } = "";
    public int? MaxSteps { get; init; }
    /// <summary>Where the metrics come from (a log path, a host), for people reading the run list.</summary>
    public string? Source { get; init; }
}

/// <summary>
/// <c>POST /api/runs/{id}/metrics</c>: steps and evals of an external run, in any order and batch size; a step
/// that is already stored is ignored (a restarted watcher may send lines twice). Null numbers are non-finite
/// values (JSON has no NaN). <see cref="Status"/> optionally moves the run (Running, Completed, Stopped, Failed).
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record IngestMetricsRequest
{
    public IReadOnlyList<IngestStep> Steps { get; init; } = [];
    public IReadOnlyList<IngestEval> Evals { get; init; } = [];
    public RunStatus? Status { get; init; }
    public string? Reason { get; init; }
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record IngestStep(long Step, double? Loss, double? LearningRate = null, double? GradNorm = null,
    double? Milliseconds = null, double? Mfu = null, double? TokensPerSecond = null, long? TokensSeen = null);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record IngestEval(long Step, double? ValLoss);

public sealed record IngestResult(int RunId, int AcceptedSteps, int DuplicateSteps, int AcceptedEvals, long LastStep, RunStatus Status);
