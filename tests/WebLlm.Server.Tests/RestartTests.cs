using Microsoft.Data.Sqlite;
using WebLlm.Contracts;

namespace WebLlm.Server.Tests;

public class RestartTests
{
    [Fact]
    public async Task A_run_left_running_by_a_crash_is_interrupted_trimmed_to_its_checkpoint_and_resumes_exactly()
    {
        string dataDir = Directory.CreateTempSubdirectory("webllm-restart-").FullName;
        try
        {
            int runId;
            IReadOnlyList<StepMetricDto> expected;
            await using (var first = new WebLlmFactory(dataDir))
            {
                var api = new Api(first.CreateClient());
                var run = await api.LaunchAsync(Api.Tiny(maxSteps: 30));
                runId = run.Id;
                await api.WaitForStatusAsync(runId, RunStatus.Completed);
                expected = await api.MetricsAsync(runId);
            }

            // The crash: the process died after step 30's metrics were stored but before its checkpoint was
            // complete, with the run still marked Running.
            Directory.Delete(Path.Combine(dataDir, "runs", runId.ToString(), "checkpoints", "step_00000030"), recursive: true);
            Directory.CreateDirectory(Path.Combine(dataDir, "runs", runId.ToString(), "checkpoints", "step_00000030.tmp"));
            await using (var connection = new SqliteConnection($"Data Source={Path.Combine(dataDir, "webllm.db")}"))
            {
                await connection.OpenAsync();
                await using var command = connection.CreateCommand();
                command.CommandText = $"UPDATE Runs SET Status = 'Running', EndedUtc = NULL WHERE Id = {runId}";
                Assert.Equal(1, await command.ExecuteNonQueryAsync());
            }
            SqliteConnection.ClearAllPools();

            await using (var second = new WebLlmFactory(dataDir))
            {
                var api = new Api(second.CreateClient());
                var interrupted = await api.GetRunAsync(runId);
                Assert.Equal(RunStatus.Interrupted, interrupted.Status);
                Assert.Equal(20, interrupted.CurrentStep);
                Assert.Equal(20, (await api.MetricsAsync(runId))[^1].Step);
                Assert.Equal([10L, 20L], (await api.ListAsync<EvalDto>(ApiRoutes.RunEvals(runId))).Select(e => e.Step));
                Assert.Equal([10L, 20L], (await api.ListAsync<CheckpointDto>(ApiRoutes.RunCheckpoints(runId))).Select(e => e.Step));
                var last = (await api.ListAsync<RunTransitionDto>(ApiRoutes.RunTransitions(runId)))[^1];
                Assert.Equal((RunStatus.Running, RunStatus.Interrupted, "server restarted"), (last.From!.Value, last.To, last.Reason));

                Assert.Equal(System.Net.HttpStatusCode.OK, (await api.CommandAsync(runId, "resume")).StatusCode);
                await api.WaitForStatusAsync(runId, RunStatus.Completed);

                var actual = await api.MetricsAsync(runId);
                Assert.Equal(expected.Select(s => s.Step), actual.Select(s => s.Step));
                Assert.Equal(expected.Select(s => s.Loss), actual.Select(s => s.Loss));
            }
        }
        finally
        {
            WebLlmFactory.DeleteDirectory(dataDir);
        }
    }

    [Fact]
    public async Task Shutting_down_mid_run_checkpoints_and_leaves_the_run_interrupted_and_resumable()
    {
        string dataDir = Directory.CreateTempSubdirectory("webllm-shutdown-").FullName;
        try
        {
            int runId;
            await using (var first = new WebLlmFactory(dataDir))
            {
                var api = new Api(first.CreateClient());
                runId = (await api.LaunchAsync(Api.Tiny(maxSteps: 2000, checkpointEvery: 0))).Id;
                await api.WaitForAsync(runId, r => r.CurrentStep >= 2, "2 steps");
            }

            await using var second = new WebLlmFactory(dataDir);
            var again = new Api(second.CreateClient());
            var run = await again.GetRunAsync(runId);
            Assert.Equal(RunStatus.Interrupted, run.Status);
            Assert.True(run.CurrentStep >= 2);
            Assert.Equal(run.CurrentStep, run.LatestCheckpointStep);
            Assert.Equal(run.CurrentStep, (await again.MetricsAsync(runId))[^1].Step);

            await again.CommandAsync(runId, "resume");
            await again.WaitForAsync(runId, r => r.CurrentStep > run.CurrentStep, "a step past the checkpoint");
            await again.CommandAsync(runId, "stop");
            await again.WaitForStatusAsync(runId, RunStatus.Stopped);
            var steps = await again.MetricsAsync(runId);
            Assert.Equal(Enumerable.Range(1, steps.Count).Select(i => (long)i), steps.Select(s => s.Step));
        }
        finally
        {
            WebLlmFactory.DeleteDirectory(dataDir);
        }
    }
}
