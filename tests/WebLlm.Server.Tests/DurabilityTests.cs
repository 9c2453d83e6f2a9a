using System.Net;
using WebLlm.Contracts;
using WebLlm.Training.Checkpoints;

namespace WebLlm.Server.Tests;

/// <summary>Retention, corrupt checkpoints, non-finite losses and a full disk, through the real server.</summary>
public class DurabilityTests
{
    private static async Task<(WebLlmFactory Factory, Api Api)> StartAsync(Dictionary<string, string> settings)
    {
        var factory = new WebLlmFactory(null, settings);
        return (factory, new Api(factory.CreateClient()));
    }

    [Fact]
    public async Task Only_the_newest_K_checkpoints_are_kept_on_disk_and_in_the_database()
    {
        var (factory, api) = await StartAsync(new() { ["WebLlm:KeepCheckpoints"] = "2" });
        await using var _ = factory;
        var run = await api.LaunchAsync(Api.Tiny(maxSteps: 40));
        await api.WaitForStatusAsync(run.Id, RunStatus.Completed);
        Assert.Equal([30L, 40L], (await api.ListAsync<CheckpointDto>(ApiRoutes.RunCheckpoints(run.Id))).Select(c => c.Step));
        Assert.Equal([30L, 40L], Checkpoint.List(Path.Combine(factory.DataDirectory, "runs", run.Id.ToString(), "checkpoints")).Select(c => c.Step));
    }

    [Fact]
    public async Task Poisoned_steps_are_skipped_counted_and_stored_as_null_without_NaN_anywhere()
    {
        var (factory, api) = await StartAsync(new() { ["WebLlm:Testing:PoisonLossFromStep"] = "5", ["WebLlm:Testing:PoisonLossSteps"] = "2", ["WebLlm:MaxBadSteps"] = "3" });
        await using var _ = factory;
        var run = await api.LaunchAsync(Api.Tiny(maxSteps: 12));
        var done = await api.WaitForStatusAsync(run.Id, RunStatus.Completed);
        Assert.Equal(2, done.SkippedSteps);
        string json = await api.Http.GetStringAsync(ApiRoutes.RunMetrics(run.Id));
        Assert.DoesNotContain("NaN", json);
        var steps = await api.MetricsAsync(run.Id);
        Assert.Equal(Enumerable.Range(1, 12).Select(i => (long)i), steps.Select(s => s.Step));
        Assert.All(steps.Where(s => s.Step is 5 or 6), s => Assert.True(s.NonFinite && s.Loss is null && s.GradNorm is null));
        Assert.All(steps.Where(s => s.Step is not (5 or 6)), s => Assert.True(!s.NonFinite && s.Loss is not null));
    }

    [Fact]
    public async Task Too_many_bad_steps_in_a_row_fail_the_run_as_diverged_keeping_its_last_good_checkpoint()
    {
        var (factory, api) = await StartAsync(new() { ["WebLlm:Testing:PoisonLossFromStep"] = "13", ["WebLlm:Testing:PoisonLossSteps"] = "1000", ["WebLlm:MaxBadSteps"] = "3" });
        await using var _ = factory;
        var run = await api.LaunchAsync(Api.Tiny(maxSteps: 40));
        var failed = await api.WaitForStatusAsync(run.Id, RunStatus.Failed);
        Assert.StartsWith("diverged", failed.StatusReason);
        Assert.True(failed.SkippedSteps >= 2);
        Assert.NotNull(failed.LastLoss);
        var checkpoints = await api.ListAsync<CheckpointDto>(ApiRoutes.RunCheckpoints(run.Id));
        Assert.Equal(10, checkpoints[^1].Step);
        Assert.Null(Checkpoint.Verify(Path.Combine(factory.DataDirectory, "runs", run.Id.ToString(), "checkpoints", Checkpoint.FolderName(10))));
    }

    [Fact]
    public async Task A_full_disk_while_checkpointing_pauses_the_run_with_the_reason_and_keeps_earlier_checkpoints()
    {
        var (factory, api) = await StartAsync(new() { ["WebLlm:Testing:CheckpointDiskFullFromStep"] = "20" });
        await using var _ = factory;
        var run = await api.LaunchAsync(Api.Tiny(maxSteps: 40));
        var paused = await api.WaitForStatusAsync(run.Id, RunStatus.Paused);
        Assert.StartsWith("disk full: ", paused.StatusReason);
        Assert.Contains("<data>", paused.StatusReason); // the file is named, the server's directory is not
        Assert.DoesNotContain(factory.DataDirectory, paused.StatusReason);
        Assert.Equal([10L], (await api.ListAsync<CheckpointDto>(ApiRoutes.RunCheckpoints(run.Id))).Select(c => c.Step));
        string checkpoints = Path.Combine(factory.DataDirectory, "runs", run.Id.ToString(), "checkpoints");
        Assert.Equal([Checkpoint.FolderName(10)], Directory.GetDirectories(checkpoints).Select(Path.GetFileName));
        Assert.Null(Checkpoint.Verify(Path.Combine(checkpoints, Checkpoint.FolderName(10))));
        Assert.Equal(HttpStatusCode.OK, (await api.Http.GetAsync(ApiRoutes.Health)).StatusCode); // the server stays up
    }

    [Fact]
    public async Task A_corrupt_newest_checkpoint_is_flagged_and_the_run_resumes_from_the_previous_one_exactly()
    {
        var (dataDir, runId, expected) = await WebLlmFactory.CompletedRunAsync("webllm-corrupt-", maxSteps: 30);
        try
        {
            // Step 30's optimizer state is damaged on disk and the server died with the run Running.
            string file = Path.Combine(dataDir, "runs", runId.ToString(), "checkpoints", Checkpoint.FolderName(30), Checkpoint.OptimizerFile);
            using (var f = File.Open(file, FileMode.Open)) f.SetLength(f.Length / 2);
            await WebLlmFactory.MarkRunningAsync(dataDir, runId);

            await using var second = new WebLlmFactory(dataDir);
            var again = new Api(second.CreateClient());
            Assert.Equal(30, (await again.GetRunAsync(runId)).LatestCheckpointStep);
            Assert.Equal(HttpStatusCode.OK, (await again.CommandAsync(runId, "resume")).StatusCode);
            var done = await again.WaitForStatusAsync(runId, RunStatus.Completed);
            Assert.Equal(20, done.ResumedFromStep);
            var transitions = await again.ListAsync<RunTransitionDto>(ApiRoutes.RunTransitions(runId));
            Assert.Contains(transitions, t => t.Reason.Contains("checkpoint(s) 30 failed verification; training from checkpoint step 20"));
            var actual = await again.MetricsAsync(runId);
            Assert.Equal(expected.Select(s => (s.Step, s.Loss)), actual.Select(s => (s.Step, s.Loss)));
            var checkpoints = await again.ListAsync<CheckpointDto>(ApiRoutes.RunCheckpoints(runId));
            Assert.Equal([10L, 20L, 30L], checkpoints.Select(c => c.Step));
            Assert.DoesNotContain(checkpoints, c => c.Corrupt); // the replay rewrote step 30
            Assert.True(Directory.Exists(Path.GetDirectoryName(file) + ".corrupt"));
        }
        finally
        {
            WebLlmFactory.DeleteDirectory(dataDir);
        }
    }
}
