namespace WebLlm.Training.Checkpoints;

/// <summary>
/// A run's folder as training leaves it: <c>checkpoints/step_NNNNNNNN/</c> for each complete checkpoint, the same name with
/// <c>.tmp</c> while one is being written and <c>.corrupt</c> once one failed its checksums. The CLI's <c>--out</c>, the
/// server's <c>runs/{id}</c> and an import's target are all run folders; everything that looks for checkpoints goes through here.
/// </summary>
public sealed record RunFolder(string Directory)
{
    public const string CheckpointsFolder = "checkpoints";

    /// <summary>Where the checkpoints are (<c>checkpoints/</c>; it may not exist yet).</summary>
    public string Checkpoints => Path.Combine(Directory, CheckpointsFolder);

    /// <summary>Complete checkpoints, oldest first.</summary>
    public IReadOnlyList<CheckpointInfo> ListCheckpoints() => Checkpoint.List(Checkpoints);

    /// <summary>The newest complete checkpoint (not verified: see <see cref="NewestIntact"/>), or null.</summary>
    public CheckpointInfo? NewestCheckpoint() => ListCheckpoints().LastOrDefault();

    /// <summary>The newest checkpoint whose checksums hold; newer ones that fail are set aside and listed in <paramref name="corrupt"/>.</summary>
    public CheckpointInfo? NewestIntact(List<CorruptCheckpoint> corrupt) => Checkpoint.NewestIntact(Checkpoints, corrupt);

    /// <summary>Removes what checkpoint writes cut short left behind; returns how many folders.</summary>
    public int CleanTemporary() => Checkpoint.CleanTemporary(Checkpoints);

    /// <summary>The folder a checkpoint of <paramref name="step"/> is written in before it is renamed into place.</summary>
    public string TemporaryCheckpoint(long step) => Path.Combine(Checkpoints, Checkpoint.FolderName(step) + Checkpoint.TempSuffix);
}
