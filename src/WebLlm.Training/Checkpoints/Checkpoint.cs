using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using WebLlm.Training.Interop;
using WebLlm.Training.Model;
using WebLlm.Training.Tokenization;
using static TorchSharp.torch;

namespace WebLlm.Training.Checkpoints;

/// <summary>What a checkpoint says about itself (<c>webllm.json</c>).</summary>
public sealed record CheckpointManifest
{
    public int FormatVersion { get; init; } = 1;
    public required long Step { get; init; }
    public required GptConfig Model { get; init; }
    public required TokenizerSpec Tokenizer { get; init; }
    public JsonObject? Training { get; init; }
    public double? TrainLoss { get; init; }
    public double? ValLoss { get; init; }
    public DateTime CreatedUtc { get; init; } = DateTime.UtcNow;
    /// <summary>Where imported weights came from (e.g. "huggingface:/path", "llmc:/path"); null for trained ones.</summary>
    public string? Source { get; init; }

    /// <summary>The training options the run used, when the checkpoint records them.</summary>
    public Loop.TrainOptions? ReadTrainOptions() => Training?.Deserialize<Loop.TrainOptions>(Checkpoint.Json);
}

/// <summary>A complete checkpoint on disk.</summary>
public sealed record CheckpointInfo(string Directory, long Step, long SizeBytes, double? ValLoss)
{
    /// <summary>SHA-256 of model.safetensors, when the checkpoint was just written (computed while writing).</summary>
    public string? ModelSha256 { get; init; }

    /// <summary>Steps of older checkpoints removed by retention after this one was complete.</summary>
    public IReadOnlyList<long> Pruned { get; init; } = [];
}

/// <summary>A checkpoint that failed verification (checksum mismatch, truncated or missing file) and was set aside.</summary>
public sealed record CorruptCheckpoint(long Step, string Reason);

/// <summary>The checkpoint failed verification; see <see cref="Checkpoint.Verify"/>.</summary>
public sealed class CorruptCheckpointException(string directory, string reason)
    : IOException($"Checkpoint {directory} is corrupt: {reason}")
{
    public string Reason { get; } = reason;
}

/// <summary>
/// Test-only fault injection for checkpoint writes. Production code never sets it (null means no faults).
/// </summary>
public sealed class CheckpointFaults
{
    /// <summary>Sleep after each file is written, to widen the window in which a kill leaves a partial checkpoint.</summary>
    public TimeSpan DelayPerFile { get; init; }

    /// <summary>Given the step being written, an exception to throw after the first file was written (e.g. ENOSPC), or null.</summary>
    public Func<long, Exception?>? FailWrite { get; init; }
}

/// <summary>
/// Checkpoint folders under <c>&lt;run&gt;/checkpoints/step_NNNNNNNN</c>:
/// <list type="bullet">
/// <item><c>model.safetensors</c> + <c>config.json</c>: Hugging Face GPT-2's layout (GPT2LMHeadModel loads it as is;
/// Conv1D weights are [in, out], i.e. transposed from our Linear layers);</item>
/// <item><c>optimizer.safetensors</c>: AdamW moments, by parameter name;</item>
/// <item><c>webllm.json</c>: step, model config, tokenizer, training options, losses.</item>
/// </list>
/// A checkpoint is written into a <c>.tmp</c> folder, every file flushed to disk, then the folder is renamed:
/// a folder with the final name is always complete. The last file written is <c>sha256sums.txt</c>
/// (<c>sha256sum -c</c> format), which <see cref="Verify"/> checks on load. Data position and dropout randomness are functions of
/// (seed, step), so the step is all the RNG state there is.
/// </summary>
public static class Checkpoint
{
    public const string ModelFile = "model.safetensors";
    public const string HfConfigFile = "config.json";
    public const string OptimizerFile = "optimizer.safetensors";
    public const string ManifestFile = "webllm.json";
    public const string ChecksumFile = "sha256sums.txt";
    internal const string TempSuffix = ".tmp";
    private const string CorruptSuffix = ".corrupt";

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static string FolderName(long step) => "step_" + step.ToString("D8", CultureInfo.InvariantCulture);

    /// <summary>Writes a checkpoint of <paramref name="model"/> (and optimizer moments when given) under <paramref name="checkpointsDir"/>.</summary>
    /// <remarks>On failure (e.g. disk full) the partial temp folder is removed and the exception rethrown; existing checkpoints are untouched.</remarks>
    public static CheckpointInfo Save(string checkpointsDir, Gpt model, CheckpointManifest manifest,
        IEnumerable<(string Name, Tensor M, Tensor V)>? optimizerState = null, long optimizerStep = 0, CheckpointFaults? faults = null)
    {
        using var scope = NewDisposeScope(); // the transposed and detached views made for writing
        Directory.CreateDirectory(checkpointsDir);
        string final = Path.Combine(checkpointsDir, FolderName(manifest.Step));
        string temp = final + TempSuffix;
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        var sums = new List<(string File, string Sha256)>();
        try
        {
            void Write(string file, Action<Stream> write)
            {
                sums.Add((file, WriteFile(Path.Combine(temp, file), write)));
                if (faults is not null)
                {
                    if (faults.DelayPerFile > TimeSpan.Zero) Thread.Sleep(faults.DelayPerFile);
                    if (faults.FailWrite?.Invoke(manifest.Step) is { } fault) throw fault;
                }
            }

            Write(ModelFile, s => SafeTensors.Write(s, HuggingFaceLayout.Parameters(model), new Dictionary<string, string> { ["format"] = "pt" }));
            Write(HfConfigFile, s => JsonSerializer.Serialize(s, HuggingFaceLayout.Config(model.Config), Json));
            if (optimizerState is not null)
                Write(OptimizerFile, s => SafeTensors.Write(s,
                    optimizerState.SelectMany(o => new[] { (o.Name + ".exp_avg", o.M), (o.Name + ".exp_avg_sq", o.V) }),
                    new Dictionary<string, string> { ["step"] = optimizerStep.ToString(CultureInfo.InvariantCulture) }));
            Write(ManifestFile, s => JsonSerializer.Serialize(s, manifest, Json));
            WriteFile(Path.Combine(temp, ChecksumFile), s =>
            {
                using var writer = new StreamWriter(s, leaveOpen: true);
                foreach (var (file, sha) in sums) writer.Write($"{sha}  {file}\n");
            });
            FsyncDirectory(temp);

            // A folder of the same step can exist after a resume from an older checkpoint replayed this step.
            if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
            Directory.Move(temp, final);
            FsyncDirectory(checkpointsDir);
        }
        catch
        {
            try { if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true); }
            catch (IOException) { } // a full disk may refuse even this; start-up cleans leftovers
            throw;
        }
        long size = new DirectoryInfo(final).EnumerateFiles().Sum(f => f.Length);
        return new CheckpointInfo(final, manifest.Step, size, manifest.ValLoss) { ModelSha256 = sums[0].Sha256 };
    }

    /// <summary>
    /// Deletes the oldest complete checkpoints so that the newest <paramref name="keep"/> remain. Call it only after
    /// a newer checkpoint is complete: it never touches temp folders and never removes the newest one.
    /// </summary>
    public static IReadOnlyList<long> Prune(string checkpointsDir, int keep)
    {
        if (keep < 1) return [];
        var all = List(checkpointsDir);
        var removed = new List<long>();
        foreach (var old in all.Take(Math.Max(0, all.Count - keep)))
        {
            Directory.Delete(old.Directory, recursive: true);
            removed.Add(old.Step);
        }
        return removed;
    }

    /// <summary>
    /// Checks every file listed in <c>sha256sums.txt</c> (or only <paramref name="files"/>) against its SHA-256.
    /// Returns null when the checkpoint is intact, else what is wrong. A checkpoint without a checksum file (written
    /// before checksums, or imported) is checked for readable required files only.
    /// </summary>
    public static string? Verify(string checkpointDir, IReadOnlyCollection<string>? files = null)
    {
        string sumsPath = Path.Combine(checkpointDir, ChecksumFile);
        foreach (var required in new[] { ModelFile, ManifestFile })
            if (!File.Exists(Path.Combine(checkpointDir, required))) return $"{required} is missing";
        if (!File.Exists(sumsPath)) return null;
        foreach (var line in File.ReadAllLines(sumsPath))
        {
            int gap = line.IndexOf("  ", StringComparison.Ordinal);
            if (gap != 64) return $"{ChecksumFile} is malformed";
            string expected = line[..gap], file = line[(gap + 2)..];
            if (files is not null && !files.Contains(file)) continue;
            string path = Path.Combine(checkpointDir, file);
            if (file.Contains('/') || file.Contains('\\') || !File.Exists(path)) return $"{file} is missing";
            using var stream = File.OpenRead(path);
            string actual = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream));
            if (actual != expected) return $"{file} has SHA-256 {actual[..12]}…, expected {expected[..12]}… (truncated or damaged)";
        }
        return null;
    }

    /// <summary>Renames a checkpoint that failed verification to <c>step_N.corrupt</c>: it is kept for inspection but never listed again.</summary>
    public static void MarkCorrupt(string checkpointDir)
    {
        string target = checkpointDir.TrimEnd(Path.DirectorySeparatorChar) + CorruptSuffix;
        if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
        Directory.Move(checkpointDir, target);
    }

    /// <summary>
    /// The newest checkpoint that passes <see cref="Verify"/>; newer ones that fail are marked corrupt (renamed)
    /// and added to <paramref name="corrupt"/>. Null when no checkpoint is intact.
    /// </summary>
    public static CheckpointInfo? NewestIntact(string checkpointsDir, List<CorruptCheckpoint> corrupt)
    {
        foreach (var c in List(checkpointsDir).Reverse())
        {
            string? problem;
            try { problem = Verify(c.Directory); }
            catch (IOException ex) { problem = ex.Message; }
            if (problem is null) return c;
            MarkCorrupt(c.Directory);
            corrupt.Add(new CorruptCheckpoint(c.Step, problem));
        }
        return null;
    }

    /// <summary>Complete checkpoints in <paramref name="checkpointsDir"/>, oldest first.</summary>
    public static IReadOnlyList<CheckpointInfo> List(string checkpointsDir)
    {
        if (!Directory.Exists(checkpointsDir)) return [];
        var list = new List<CheckpointInfo>();
        foreach (var dir in new DirectoryInfo(checkpointsDir).EnumerateDirectories("step_*"))
        {
            if (dir.Name.EndsWith(TempSuffix, StringComparison.Ordinal)) continue;
            if (!long.TryParse(dir.Name.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out long step)) continue;
            if (!File.Exists(Path.Combine(dir.FullName, ModelFile)) || !File.Exists(Path.Combine(dir.FullName, ManifestFile))) continue;
            double? val = null;
            try { val = ReadManifest(dir.FullName).ValLoss; } catch (Exception e) when (e is JsonException or IOException or InvalidDataException) { continue; }
            list.Add(new CheckpointInfo(dir.FullName, step, dir.EnumerateFiles().Sum(f => f.Length), val));
        }
        return list.OrderBy(c => c.Step).ToList();
    }

    /// <summary>Removes folders left by a checkpoint write that never finished.</summary>
    public static int CleanTemporary(string checkpointsDir)
    {
        if (!Directory.Exists(checkpointsDir)) return 0;
        int n = 0;
        foreach (var dir in Directory.EnumerateDirectories(checkpointsDir, "step_*" + TempSuffix))
        {
            Directory.Delete(dir, recursive: true);
            n++;
        }
        return n;
    }

    public static CheckpointManifest ReadManifest(string checkpointDir)
    {
        string path = Path.Combine(checkpointDir, ManifestFile);
        using var stream = File.OpenRead(path);
        return JsonSerializer.Deserialize<CheckpointManifest>(stream, Json) ?? throw new InvalidDataException($"{path} is empty.");
    }

    /// <summary>Loads the model of a checkpoint folder (or of a Hugging Face GPT-2 folder with webllm.json).</summary>
    /// <remarks>The weights and manifest are verified against <c>sha256sums.txt</c> first (<see cref="CorruptCheckpointException"/>).</remarks>
    public static (Gpt Model, CheckpointManifest Manifest) LoadModel(string checkpointDir, Device? device = null)
    {
        if (File.Exists(Path.Combine(checkpointDir, ChecksumFile)) && Verify(checkpointDir, [ModelFile, ManifestFile]) is { } problem)
            throw new CorruptCheckpointException(checkpointDir, problem);
        var manifest = ReadManifest(checkpointDir);
        var model = new Gpt(manifest.Model);
        try
        {
            HuggingFaceLayout.LoadWeights(model, Path.Combine(checkpointDir, ModelFile));
            if (device is not null) model.to(device);
            return (model, manifest);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Reads optimizer moments and the optimizer's step count; the caller disposes the tensors.</summary>
    public static (Dictionary<string, Tensor> Moments, long Step) LoadOptimizer(string checkpointDir)
    {
        var (tensors, meta) = SafeTensors.Read(Path.Combine(checkpointDir, OptimizerFile));
        long step = meta.TryGetValue("step", out var s) ? long.Parse(s, CultureInfo.InvariantCulture) : 0;
        return (tensors, step);
    }

    /// <summary>Writes, flushes to disk and returns the SHA-256 of what was written (hashed on the way, not re-read).</summary>
    private static string WriteFile(string path, Action<Stream> write)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        using (var hashing = new HashingStream(stream, hash)) write(hashing);
        stream.Flush(flushToDisk: true);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Makes a rename inside <paramref name="directory"/> durable (POSIX: fsync the directory). Best effort elsewhere.</summary>
    private static void FsyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows()) return;
        try
        {
            using var handle = File.OpenHandle(directory, FileMode.Open, FileAccess.Read);
            RandomAccess.FlushToDisk(handle);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>A write-only pass-through that feeds every byte to a hash.</summary>
    private sealed class HashingStream(Stream inner, System.Security.Cryptography.IncrementalHash hash) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            hash.AppendData(buffer);
            inner.Write(buffer);
        }
        public override void WriteByte(byte value) => Write([value]);
    }
}
