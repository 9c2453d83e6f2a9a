using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using WebLlm.Contracts;
using WebLlm.Server.Persistence;
using WebLlm.Training.Checkpoints;

namespace WebLlm.Server.Tests;

/// <summary>
/// A full disk under the database and under the checkpoints, with SQLite's real SQLITE_FULL (a page cap on the
/// server's own connections) and with real ENOSPC (the data directory on a small tmpfs). Either way: the run pauses
/// with a visible reason, the server answers, earlier checkpoints and the database stay intact, and once space
/// returns the run resumes with exactly one metric row per step.
/// </summary>
public class DiskFullTests
{
    private static readonly Dictionary<string, string> NoPruning = new() { ["WebLlm:KeepCheckpoints"] = "1000" };

    [Fact]
    public async Task A_full_database_pauses_the_run_keeps_the_server_and_state_intact_and_the_run_resumes_without_a_lost_or_doubled_step()
    {
        await using var factory = new WebLlmFactory(null, NoPruning);
        var api = new Api(factory.CreateClient());
        var quota = factory.Services.GetRequiredService<DatabaseQuota>();
        var run = await api.LaunchAsync(Api.Tiny(maxSteps: 200, checkpointEvery: 10));
        await api.WaitForAsync(run.Id, r => r.CurrentStep >= 12, "12 steps");
        var before = IntactCheckpoints(factory.DataDirectory, run.Id);
        Assert.NotEmpty(before);

        quota.Cap(await ScalarAsync(factory.DataDirectory, "PRAGMA page_count")); // the next page the writer needs is refused
        var paused = await api.WaitForStatusAsync(run.Id, RunStatus.Paused);
        Assert.StartsWith("disk full: the database could not be written", paused.StatusReason);
        Assert.True(paused.CurrentStep < 200, "the run paused before it finished");
        await AssertServesWhileFullAsync(api, run.Id);
        AssertStillIntact(factory.DataDirectory, run.Id, before);
        Assert.Equal("ok", await IntegrityAsync(factory.DataDirectory));

        quota.Lift();
        await ResumeToTheEndAsync(api, run.Id, maxSteps: 200);
    }

    [Fact]
    public void What_a_full_disk_looks_like_to_sqlite_and_to_dotnet_is_recognized()
    {
        Assert.True(WebLlm.Server.DiskFull.Is(new SqliteException("database or disk is full", 13, 13)));
        Assert.True(WebLlm.Server.DiskFull.Is(new SqliteException("disk I/O error", 10, 10 | (19 << 8)))); // the -shm file could not grow
        Assert.True(WebLlm.Server.DiskFull.Is(new InvalidOperationException("wrapped", WebLlm.Server.DiskFull.Exception("/x"))));
        Assert.False(WebLlm.Server.DiskFull.Is(new SqliteException("disk I/O error", 10, 10 | (1 << 8)))); // SQLITE_IOERR_READ: a failed read is not a full disk
        Assert.False(WebLlm.Server.DiskFull.Is(new SqliteException("database is locked", 5, 5)));
    }

    [Fact]
    public async Task External_metrics_on_a_full_database_get_503_and_are_stored_once_space_returns()
    {
        const string key = "disk-full-test-key";
        await using var factory = new WebLlmFactory(null, new Dictionary<string, string> { ["WebLlm:ApiKey"] = key });
        var http = factory.CreateClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", key);
        var api = new Api(http);
        var quota = factory.Services.GetRequiredService<DatabaseQuota>();
        var created = await http.PostAsJsonAsync(ApiRoutes.ExternalRuns, new CreateExternalRunRequest { Name = "llmc", Engine = "llm.c", MaxSteps = 6_000 });
        var run = (await created.Content.ReadFromJsonAsync<RunDto>())!;
        IngestMetricsRequest Steps(int from, int to) => new() { Steps = [.. Enumerable.Range(from, to - from + 1).Select(s => new IngestStep(s, 10.0 / s))] };
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync(ApiRoutes.RunMetrics(run.Id), Steps(1, 10))).StatusCode);

        quota.Cap(await ScalarAsync(factory.DataDirectory, "PRAGMA page_count"));
        var full = await http.PostAsJsonAsync(ApiRoutes.RunMetrics(run.Id), Steps(11, 5_000));
        await Api.AssertProblemAsync(full, HttpStatusCode.ServiceUnavailable, ErrorCodes.DiskFull);
        Assert.NotNull(full.Headers.RetryAfter);
        var refused = await http.PostAsJsonAsync(ApiRoutes.RunMetrics(run.Id), Steps(5_001, 5_010));
        await Api.AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, ErrorCodes.DiskFull);

        // The steps of the first refused request wait in the writer and are stored once space returns; sending them
        // again is safe, and the refused second request is simply sent again.
        quota.Lift();
        var deadline = DateTime.UtcNow + Api.Patience;
        while ((await api.MetricsAsync(run.Id)).Count < 5_000)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The held steps never reached the database.");
            await Task.Delay(100);
        }
        var again = await http.PostAsJsonAsync(ApiRoutes.RunMetrics(run.Id), Steps(4_991, 5_010));
        var result = (await again.Content.ReadFromJsonAsync<IngestResult>())!;
        Assert.Equal((10, 10), (result.AcceptedSteps, result.DuplicateSteps));
        Assert.Equal(Enumerable.Range(1, 5_010).Select(s => (long)s), (await api.MetricsAsync(run.Id)).Select(s => s.Step));
        Assert.Equal("ok", await IntegrityAsync(factory.DataDirectory));
    }

    /// <summary>
    /// The data directory on a real 64 MiB tmpfs that fills up: first under a checkpoint write, then under the
    /// database's WAL. Needs root to mount (CI runs as root); without it the test fails and says why.
    /// </summary>
    [Fact]
    public async Task A_real_full_tmpfs_under_checkpoints_and_database_pauses_the_run_and_loses_nothing()
    {
        using var tmpfs = Tmpfs.Mount(sizeMiB: 64);
        string data = Path.Combine(tmpfs.Path, "data");
        await using var factory = new WebLlmFactory(data, NoPruning);
        var api = new Api(factory.CreateClient());
        // Checkpoints only when asked ("checkpoint now"), so the test decides which write meets the full disk.
        var run = await api.LaunchAsync(Api.Tiny(maxSteps: 1_000_000, checkpointEvery: 0));
        await api.WaitForAsync(run.Id, r => r.CurrentStep >= 10, "10 steps");
        await CheckpointNowAsync(api, run.Id);
        var before = IntactCheckpoints(data, run.Id);
        long checkpointBytes = Directory.EnumerateFiles(before[0].Directory).Sum(f => new FileInfo(f).Length);

        // 1. A checkpoint write meets the full disk: less than half a checkpoint is left.
        string filler = Path.Combine(tmpfs.Path, "filler");
        tmpfs.Fill(filler, leaveBytes: checkpointBytes / 2);
        Assert.Equal(HttpStatusCode.Accepted, (await api.CommandAsync(run.Id, "checkpoint")).StatusCode);
        var paused = await api.WaitForStatusAsync(run.Id, RunStatus.Paused);
        Assert.StartsWith("disk full: ", paused.StatusReason);
        Assert.DoesNotContain(data, paused.StatusReason);
        Assert.Empty(Directory.GetDirectories(Path.Combine(data, "runs", run.Id.ToString(), "checkpoints"), "*.tmp"));
        await AssertServesWhileFullAsync(api, run.Id, refusesWrites: false);
        AssertStillIntact(data, run.Id, before);
        Assert.Equal("ok", await IntegrityAsync(data));
        File.Delete(filler);
        await WaitForStoredPauseAsync(api, run.Id, count: 1); // the writer may have stalled too; it catches up within 2 s

        // 2. The database meets the full disk: nothing is left while the run trains with no checkpoint due; the WAL
        // cannot grow (and cannot be checkpointed into the database file), the writer stalls and the run pauses.
        Assert.Equal(HttpStatusCode.OK, (await api.CommandAsync(run.Id, "resume")).StatusCode);
        var resumed = await api.WaitForAsync(run.Id, r => r.Status == RunStatus.Running && r.CurrentStep > before[^1].Step + 20, "20 steps after resuming");
        tmpfs.Fill(filler, leaveBytes: 0);
        paused = await WaitForPauseWhileFullAsync(api, run.Id);
        Assert.StartsWith("disk full: the database could not be written", paused.StatusReason);
        // Not asserting 503 on resume here: on a real disk SQLite may commit again now and then (a WAL reset reuses its
        // file), and then resuming is allowed. The page-cap test above pins the 503 down.
        await AssertServesWhileFullAsync(api, run.Id, refusesWrites: false);
        AssertStillIntact(data, run.Id, before);
        Assert.Equal("ok", await IntegrityAsync(data));
        File.Delete(filler);
        await WaitForStoredPauseAsync(api, run.Id, count: 2);

        Assert.Equal(HttpStatusCode.OK, (await api.CommandAsync(run.Id, "resume")).StatusCode);
        await api.WaitForAsync(run.Id, r => r.Status == RunStatus.Running && r.CurrentStep > resumed.CurrentStep, "training past the second pause");
        Assert.Equal(HttpStatusCode.Accepted, (await api.CommandAsync(run.Id, "stop")).StatusCode);
        var stopped = await api.WaitForStatusAsync(run.Id, RunStatus.Stopped);
        await AssertOneRowPerStepAsync(api, run.Id, stopped.CurrentStep);
    }

    private static async Task CheckpointNowAsync(Api api, int runId)
    {
        Assert.Equal(HttpStatusCode.Accepted, (await api.CommandAsync(runId, "checkpoint")).StatusCode);
        var deadline = DateTime.UtcNow + Api.Patience;
        while ((await api.ListAsync<CheckpointDto>(ApiRoutes.RunCheckpoints(runId))).Count == 0)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("No checkpoint was written.");
            await Task.Delay(25);
        }
    }

    /// <summary>While the disk is full: reads and health answer; writes that need the database say 503 disk_full with Retry-After.</summary>
    private static async Task AssertServesWhileFullAsync(Api api, int runId, bool refusesWrites = true)
    {
        Assert.Equal(HttpStatusCode.OK, (await api.Http.GetAsync(ApiRoutes.Health)).StatusCode);
        Assert.NotEmpty(await api.MetricsAsync(runId));
        Assert.Contains(await api.ListAsync<RunDto>(ApiRoutes.Runs), r => r.Id == runId && r.Status == RunStatus.Paused);
        if (!refusesWrites) return;
        var resume = await api.CommandAsync(runId, "resume");
        await Api.AssertProblemAsync(resume, HttpStatusCode.ServiceUnavailable, ErrorCodes.DiskFull);
        Assert.NotNull(resume.Headers.RetryAfter);
        var launch = await api.Http.PostAsJsonAsync(ApiRoutes.Runs, Api.Tiny());
        await Api.AssertProblemAsync(launch, HttpStatusCode.ServiceUnavailable, ErrorCodes.DiskFull);
    }

    /// <summary>
    /// Polls the run until it is Paused, while the database's disk is full: a read that needs the WAL's <c>-shm</c> file to
    /// grow then fails, and the documented answer to that is 503 <c>disk_full</c> (seen in a clean-clone run), which is
    /// checked and polled through rather than taken for a failure.
    /// </summary>
    private static async Task<RunDto> WaitForPauseWhileFullAsync(Api api, int runId)
    {
        var deadline = DateTime.UtcNow + Api.Patience;
        while (true)
        {
            var response = await api.Http.GetAsync(ApiRoutes.Run(runId));
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
                await Api.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, ErrorCodes.DiskFull);
            else if ((await response.Content.ReadFromJsonAsync<RunDto>())! is { Status: RunStatus.Paused } run)
                return run;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Run {runId} did not pause on the full database disk.");
            await Task.Delay(25);
        }
    }

    /// <summary>The pause is in the database (not only shown from memory): the writer committed what it held back.</summary>
    private static async Task WaitForStoredPauseAsync(Api api, int runId, int count)
    {
        var deadline = DateTime.UtcNow + Api.Patience;
        while ((await api.ListAsync<RunTransitionDto>(ApiRoutes.RunTransitions(runId))).Count(t => t.To == RunStatus.Paused && t.Reason.StartsWith("disk full: ")) < count)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The disk-full pause never reached the database.");
            await Task.Delay(50);
        }
    }

    private static async Task ResumeToTheEndAsync(Api api, int runId, int maxSteps)
    {
        await WaitForStoredPauseAsync(api, runId, count: 1);
        Assert.Equal(HttpStatusCode.OK, (await api.CommandAsync(runId, "resume")).StatusCode);
        await api.WaitForStatusAsync(runId, RunStatus.Completed);
        await AssertOneRowPerStepAsync(api, runId, maxSteps);
    }

    private static async Task AssertOneRowPerStepAsync(Api api, int runId, long lastStep) =>
        Assert.Equal(Enumerable.Range(1, (int)lastStep).Select(i => (long)i), (await api.MetricsAsync(runId)).Select(s => s.Step));

    private static IReadOnlyList<CheckpointInfo> IntactCheckpoints(string dataDir, int runId)
    {
        var all = Checkpoint.List(Path.Combine(dataDir, "runs", runId.ToString(), "checkpoints"));
        Assert.All(all, c => Assert.Null(Checkpoint.Verify(c.Directory)));
        return all;
    }

    private static void AssertStillIntact(string dataDir, int runId, IReadOnlyList<CheckpointInfo> before)
    {
        var now = IntactCheckpoints(dataDir, runId).Select(c => c.Step).ToHashSet();
        Assert.All(before, c => Assert.Contains(c.Step, now));
    }

    private static async Task<long> ScalarAsync(string dataDir, string sql)
    {
        await using var connection = ReadOnly(dataDir);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    private static async Task<string> IntegrityAsync(string dataDir)
    {
        await using var connection = ReadOnly(dataDir);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA integrity_check";
        return (string)(await command.ExecuteScalarAsync())!;
    }

    private static SqliteConnection ReadOnly(string dataDir) => new(new SqliteConnectionStringBuilder
    {
        DataSource = Path.Combine(dataDir, PersistenceExtensions.DatabaseFileName), Mode = SqliteOpenMode.ReadOnly, Pooling = false,
    }.ToString());

    /// <summary>A tmpfs of a fixed size, mounted for one test and unmounted (lazily if still busy) on dispose.</summary>
    private sealed class Tmpfs : IDisposable
    {
        private Tmpfs(string path) => Path = path;

        public string Path { get; }

        public static Tmpfs Mount(int sizeMiB)
        {
            string dir = Directory.CreateTempSubdirectory("webllm-tmpfs-").FullName;
            var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={sizeMiB}m", "tmpfs", dir);
            if (code != 0)
            {
                Directory.Delete(dir);
                Assert.Fail($"This test mounts a tmpfs and needs root (CI runs as root): mount exited {code}: {output}");
            }
            return new Tmpfs(dir);
        }

        /// <summary>Writes real bytes into <paramref name="file"/> until only <paramref name="leaveBytes"/> are free (0: until ENOSPC).</summary>
        public void Fill(string file, long leaveBytes)
        {
            var chunk = new byte[1 << 16];
            using var stream = new FileStream(file, FileMode.Append, FileAccess.Write, FileShare.None, bufferSize: 0);
            try
            {
                // Real bytes: tmpfs allocates on write, a sparse SetLength would take no space.
                for (long free; (free = new DriveInfo(Path).AvailableFreeSpace) > leaveBytes;)
                    stream.Write(chunk, 0, (int)Math.Min(chunk.Length, free - leaveBytes));
            }
            catch (IOException) when (leaveBytes == 0)
            {
            }
        }

        public void Dispose()
        {
            SqliteConnection.ClearAllPools();
            if (Run("umount", Path).Code != 0) Run("umount", "-l", Path);
            Directory.Delete(Path);
        }

        private static (int Code, string Output) Run(string file, params string[] args)
        {
            var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in args) info.ArgumentList.Add(a);
            using var p = Process.Start(info)!;
            string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output.Trim());
        }
    }
}
