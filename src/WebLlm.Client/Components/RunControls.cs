using WebLlm.Contracts;

namespace WebLlm.Client.Components;

/// <summary>Which run actions a status allows (mirrors the server's transition table; the server still decides).</summary>
public static class RunControls
{
    public const string Pause = "pause";
    public const string Resume = "resume";
    public const string Stop = "stop";
    public const string SampleNow = "sample";
    public const string CheckpointNow = "checkpoint";

    /// <summary>"Sample now" / "checkpoint now": only while the run trains on this server.</summary>
    public static bool CanActNow(RunStatus status) => status == RunStatus.Running;

    public static bool CanPause(RunStatus status) => status == RunStatus.Running;

    public static bool CanResume(RunStatus status) => status is RunStatus.Paused or RunStatus.Interrupted;

    public static bool CanStop(RunStatus status) => status is RunStatus.Running or RunStatus.Paused or RunStatus.Interrupted or RunStatus.Queued;

    public static bool IsActive(RunStatus status) => status is RunStatus.Running or RunStatus.Queued;

    /// <summary>Runs this server trains (no <see cref="RunDto.Engine"/>) take every command.</summary>
    public static bool IsLocal(RunDto run) => run.Engine is null;

    /// <summary>An imported model: nothing to control (the engine reads "import: …").</summary>
    public static bool IsImported(RunDto run) => run.Engine?.StartsWith("import", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>Pause and resume: local runs only. Stop: local runs and external ones (it stops watching).</summary>
    public static bool HasPauseResume(RunDto run) => IsLocal(run);

    public static bool HasStop(RunDto run) => !IsImported(run);

    public static bool CanDelete(RunStatus status) => status is not (RunStatus.Running or RunStatus.Queued);
}
