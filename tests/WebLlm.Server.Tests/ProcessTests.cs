using System.Diagnostics;
using System.Net;
using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using WebLlm.Contracts;
using WebLlm.Training.Checkpoints;

namespace WebLlm.Server.Tests;

/// <summary>SIGTERM, SIGKILL and start-up refusals against the real server process.</summary>
public class ProcessTests
{
    /// <summary>A run slow enough to be caught mid-way: 5000 steps, checkpoints every <paramref name="every"/>.</summary>
    private static CreateRunRequest LongRun(int every) => Api.Tiny(maxSteps: 5000, checkpointEvery: every) with { SampleEvery = 0, EvalEvery = 50 };

    private static Api ApiFor(ServerProcess server) => new(new HttpClient { BaseAddress = server.BaseAddress, DefaultRequestHeaders = { { "X-WebLlm-Request", "1" } } });

    [Fact]
    public async Task Sigterm_finishes_the_step_writes_a_checkpoint_and_exits_within_the_shutdown_timeout()
    {
        string dataDir = Directory.CreateTempSubdirectory("webllm-sigterm-").FullName;
        try
        {
            int runId;
            await using (var server = await ServerProcess.StartAsync(dataDir, "--WebLlm:ShutdownTimeoutSeconds=20"))
            {
                var api = ApiFor(server);
                runId = (await api.LaunchAsync(LongRun(every: 0))).Id;
                await api.WaitForAsync(runId, r => r.CurrentStep >= 5, "5 steps");
                var clock = Stopwatch.StartNew();
                await server.SignalAsync("TERM");
                Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(20)), "no exit within the shutdown timeout:\n" + server.Output);
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20));
                Assert.Equal(0, server.ExitCode);
            }
            await using (var again = await ServerProcess.StartAsync(dataDir))
            {
                var api = ApiFor(again);
                var run = await api.GetRunAsync(runId);
                Assert.Equal(RunStatus.Interrupted, run.Status);
                Assert.StartsWith("server shut down at step", run.StatusReason);
                Assert.True(run.CurrentStep >= 5);
                Assert.Equal(run.CurrentStep, run.LatestCheckpointStep);
                Assert.Equal(run.CurrentStep, (await api.MetricsAsync(runId))[^1].Step);
                Assert.Equal(HttpStatusCode.OK, (await api.CommandAsync(runId, "resume")).StatusCode);
                await api.WaitForAsync(runId, r => r.Status == RunStatus.Running && r.CurrentStep > run.CurrentStep, "a step past the checkpoint");
            }
        }
        finally
        {
            WebLlmFactory.DeleteDirectory(dataDir);
        }
    }

    /// <summary>
    /// The server trains on a thread of its own, which only shares glibc's main malloc arena when MALLOC_ARENA_MAX=1 is
    /// set from the start (NativeAllocator.RestartWithOneArena): it starts itself again in place, as the same process
    /// with the same arguments, before anything else. A value the user set is left alone.
    /// </summary>
    [Theory]
    [InlineData(null, "1")]
    [InlineData("4", "4")]
    public async Task The_server_restarts_itself_in_place_with_one_malloc_arena_unless_the_user_chose(string? given, string expected)
    {
        string dataDir = Directory.CreateTempSubdirectory("webllm-arena-").FullName;
        try
        {
            var environment = given is null ? new Dictionary<string, string>() : new() { ["MALLOC_ARENA_MAX"] = given };
            await using var server = await ServerProcess.StartAsync(dataDir, environment);
            var variables = File.ReadAllText($"/proc/{server.Pid}/environ").Split('\0');
            Assert.Contains($"MALLOC_ARENA_MAX={expected}", variables);
            Assert.Single(variables, v => v.StartsWith("MALLOC_ARENA_MAX=", StringComparison.Ordinal));
            var args = File.ReadAllText($"/proc/{server.Pid}/cmdline").Split('\0');
            Assert.Contains($"--WebLlm:DataDirectory={dataDir}", args);
            // Named after the executable it started as (top and ps show it), not "exe" from /proc/self/exe.
            Assert.Equal("dotnet", File.ReadAllText($"/proc/{server.Pid}/comm").Trim()); // started through the dotnet host
            var info = await new HttpClient { BaseAddress = server.BaseAddress }.GetAsync(ApiRoutes.Info);
            Assert.Equal(HttpStatusCode.OK, info.StatusCode);
            Assert.False(server.HasExited);
        }
        finally
        {
            WebLlmFactory.DeleteDirectory(dataDir);
        }
    }

    [Theory]
    [InlineData("http://0.0.0.0:0")]
    [InlineData("http://*:0")]
    public async Task A_non_loopback_address_without_an_api_key_refuses_to_start_with_a_clear_message(string urls)
    {
        string dataDir = Directory.CreateTempSubdirectory("webllm-exposed-").FullName;
        try
        {
            var (code, output) = await ServerProcess.RunToExitAsync(dataDir, urls);
            Assert.NotEqual(0, code);
            Assert.Contains("without an API key", output);
        }
        finally
        {
            WebLlmFactory.DeleteDirectory(dataDir);
        }
    }

    /// <summary>
    /// SIGKILL at random moments (including inside a widened checkpoint write), restart, check. CI runs 3 iterations;
    /// <c>bench/fault-injection.sh</c> sets WEBLLM_FAULT_ITERATIONS=20 and WEBLLM_FAULT_REPORT to write the table.
    /// </summary>
    [Fact]
    public async Task Sigkill_at_random_moments_never_corrupts_the_database_loses_the_run_or_duplicates_a_step()
    {
        int iterations = int.TryParse(Environment.GetEnvironmentVariable("WEBLLM_FAULT_ITERATIONS"), out int n) ? n : 3;
        int seed = int.TryParse(Environment.GetEnvironmentVariable("WEBLLM_FAULT_SEED"), out int s) ? s : Environment.TickCount;
        var random = new Random(seed);
        string dataDir = Directory.CreateTempSubdirectory("webllm-sigkill-").FullName;
        var report = new StringBuilder("| iteration | kill moment | step reached | checkpoint used on restart | integrity_check | duplicate steps | gaps |\n| --- | --- | --- | --- | --- | --- | --- |\n");
        string[] settings = ["--WebLlm:Testing:CheckpointFileDelayMs=150", "--WebLlm:KeepCheckpoints=2"];
        try
        {
            int runId = 0;
            for (int i = 1; i <= iterations; i++)
            {
                string moment;
                long reached;
                await using (var server = await ServerProcess.StartAsync(dataDir, settings))
                {
                    var api = ApiFor(server);
                    if (runId == 0) runId = (await api.LaunchAsync(LongRun(every: 7))).Id;
                    else Assert.Equal(HttpStatusCode.OK, (await api.CommandAsync(runId, "resume")).StatusCode);
                    var running = await api.WaitForStatusAsync(runId, RunStatus.Running);
                    string checkpoints = Path.Combine(dataDir, "runs", runId.ToString(CultureInfo.InvariantCulture), "checkpoints");
                    if (random.Next(2) == 0)
                    {
                        // Inside a checkpoint write: wait for a temp folder to appear (each file takes 150 ms more).
                        var deadline = DateTime.UtcNow + Api.Patience;
                        while (!Temps(checkpoints).Any() && DateTime.UtcNow < deadline) await Task.Delay(5);
                        await Task.Delay(random.Next(0, 450));
                        moment = "during checkpoint write";
                    }
                    else
                    {
                        int ms = random.Next(200, 2500);
                        await Task.Delay(ms);
                        moment = $"{ms} ms after start";
                    }
                    await server.SignalAsync("KILL");
                    Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
                    reached = MaxStep(dataDir, runId);
                    if (Temps(checkpoints).Any()) moment += " (temp folder left)";
                }
                SqliteConnection.ClearAllPools();
                string integrity = Scalar(dataDir, "PRAGMA integrity_check");
                await using (var server = await ServerProcess.StartAsync(dataDir, settings))
                {
                    var api = ApiFor(server);
                    var run = await api.GetRunAsync(runId);
                    Assert.Equal(RunStatus.Interrupted, run.Status);
                    string checkpoints = Path.Combine(dataDir, "runs", runId.ToString(CultureInfo.InvariantCulture), "checkpoints");
                    Assert.Empty(Temps(checkpoints));
                    long newest = Checkpoint.List(checkpoints).LastOrDefault()?.Step ?? 0;
                    Assert.Equal(newest, run.LatestCheckpointStep ?? 0);
                    var steps = (await api.MetricsAsync(runId)).Select(m => m.Step).ToList();
                    int duplicates = steps.Count - steps.Distinct().Count();
                    bool gaps = !steps.SequenceEqual(Enumerable.Range(1, steps.Count).Select(x => (long)x));
                    report.Append(CultureInfo.InvariantCulture, $"| {i} | {moment} | {reached} | {newest} | {integrity} | {duplicates} | {(gaps ? "yes" : "no")} |\n");
                    Assert.Equal("ok", integrity);
                    Assert.Equal(0, duplicates);
                    Assert.False(gaps);
                    Assert.Equal(newest, steps.LastOrDefault());
                }
                SqliteConnection.ClearAllPools();
            }
            // Finally the run resumes from its newest complete checkpoint and trains on.
            await using (var server = await ServerProcess.StartAsync(dataDir, settings))
            {
                var api = ApiFor(server);
                long from = (await api.GetRunAsync(runId)).LatestCheckpointStep ?? 0;
                Assert.Equal(HttpStatusCode.OK, (await api.CommandAsync(runId, "resume")).StatusCode);
                var run = await api.WaitForAsync(runId, r => r.CurrentStep > from, "a step past the checkpoint");
                Assert.Equal(from > 0 ? from : null, run.ResumedFromStep);
            }
        }
        finally
        {
            if (Environment.GetEnvironmentVariable("WEBLLM_FAULT_REPORT") is { Length: > 0 } path)
                await File.WriteAllTextAsync(path, $"seed {seed}, {iterations} iterations\n\n" + report);
            WebLlmFactory.DeleteDirectory(dataDir);
        }
    }

    /// <summary>
    /// The narrowest moment of the test above: a checkpoint folder has just been renamed into place. Its steps are
    /// posted to the database writer, which gathers them for up to a second, so a kill here used to leave a checkpoint
    /// ahead of the stored steps: recovery resumed from it and the steps before it were gone from the run's history.
    /// </summary>
    [Fact]
    public async Task A_kill_the_moment_a_checkpoint_appears_keeps_every_step_up_to_it()
    {
        string dataDir = Directory.CreateTempSubdirectory("webllm-sigkill-checkpoint-").FullName;
        try
        {
            int runId;
            long newest;
            await using (var server = await ServerProcess.StartAsync(dataDir))
            {
                var api = ApiFor(server);
                runId = (await api.LaunchAsync(LongRun(every: 5))).Id;
                string checkpoints = Path.Combine(dataDir, "runs", runId.ToString(CultureInfo.InvariantCulture), "checkpoints");
                var deadline = DateTime.UtcNow + Api.Patience;
                while (Checkpoint.List(checkpoints).Count == 0 && DateTime.UtcNow < deadline) await Task.Delay(1);
                await server.SignalAsync("KILL");
                Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
                newest = Checkpoint.List(checkpoints).LastOrDefault()?.Step ?? 0;
                Assert.True(newest >= 5, $"no checkpoint within {Api.Patience}:\n{server.Output}");
            }
            SqliteConnection.ClearAllPools();
            await using (var again = await ServerProcess.StartAsync(dataDir))
            {
                var api = ApiFor(again);
                var run = await api.GetRunAsync(runId);
                Assert.Equal(newest, run.LatestCheckpointStep);
                Assert.Equal(newest, run.CurrentStep);
                var steps = (await api.MetricsAsync(runId)).Select(m => m.Step).ToList();
                Assert.Equal(Enumerable.Range(1, (int)newest).Select(x => (long)x), steps);
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            WebLlmFactory.DeleteDirectory(dataDir);
        }
    }

    private static IEnumerable<string> Temps(string checkpoints) =>
        Directory.Exists(checkpoints) ? Directory.EnumerateDirectories(checkpoints, "*.tmp") : [];

    private static long MaxStep(string dataDir, int runId)
    {
        SqliteConnection.ClearAllPools();
        return long.Parse(Scalar(dataDir, $"SELECT COALESCE(MAX(Step), 0) FROM StepMetrics WHERE RunId = {runId}"), CultureInfo.InvariantCulture);
    }

    private static string Scalar(string dataDir, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(dataDir, "webllm.db")};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToString(command.ExecuteScalar(), CultureInfo.InvariantCulture)!;
    }
}
