using System.Net;
using WebLlm.Contracts;

namespace WebLlm.Server.Tests;

/// <summary>"Sample now" and "checkpoint now": taken after the current step, through the cadence's own code path.</summary>
public class OnDemandTests(WebLlmFactory factory) : IClassFixture<WebLlmFactory>
{
    private readonly Api api = new(factory.CreateClient());

    private static CreateRunRequest Slow() => Api.Tiny(maxSteps: 200, checkpointEvery: 100) with { SampleEvery = 100 };

    [Fact]
    public async Task Sample_now_adds_samples_between_cadence_steps()
    {
        var run = await api.LaunchAsync(Slow());
        await api.WaitForAsync(run.Id, r => r.Status == RunStatus.Running && r.CurrentStep >= 3, "3 steps");
        var response = await api.CommandAsync(run.Id, "sample");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var samples = await WaitForListAsync<SampleDto>(ApiRoutes.RunSamples(run.Id), s => s.Step % 100 != 0);
        Assert.Contains(samples, s => s.Step % 100 != 0 && s.Step >= 3);
        await api.CommandAsync(run.Id, "stop");
        await api.WaitForStatusAsync(run.Id, RunStatus.Stopped);
    }

    [Fact]
    public async Task Checkpoint_now_writes_a_checkpoint_between_cadence_steps_and_a_finished_run_answers_409()
    {
        var run = await api.LaunchAsync(Slow());
        await api.WaitForAsync(run.Id, r => r.Status == RunStatus.Running && r.CurrentStep >= 3, "3 steps");
        var response = await api.CommandAsync(run.Id, "checkpoint");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var checkpoints = await WaitForListAsync<CheckpointDto>(ApiRoutes.RunCheckpoints(run.Id), c => c.Step % 100 != 0);
        Assert.Contains(checkpoints, c => c.Step % 100 != 0 && c.Step >= 3);
        await api.CommandAsync(run.Id, "stop");
        await api.WaitForStatusAsync(run.Id, RunStatus.Stopped);

        var done = await api.LaunchAsync(Api.Tiny(maxSteps: 5));
        await api.WaitForStatusAsync(done.Id, RunStatus.Completed);
        await Api.AssertProblemAsync(await api.CommandAsync(done.Id, "sample"), HttpStatusCode.Conflict, ErrorCodes.InvalidTransition);
        await Api.AssertProblemAsync(await api.CommandAsync(done.Id, "checkpoint"), HttpStatusCode.Conflict, ErrorCodes.InvalidTransition);
        await Api.AssertProblemAsync(await api.CommandAsync(run.Id, "checkpoint"), HttpStatusCode.Conflict, ErrorCodes.InvalidTransition);
    }

    private async Task<List<T>> WaitForListAsync<T>(string route, Func<T, bool> condition)
    {
        var deadline = DateTime.UtcNow + Api.Patience;
        while (true)
        {
            var list = await api.ListAsync<T>(route);
            if (list.Any(condition)) return list;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{route} never got the expected row.");
            await Task.Delay(25);
        }
    }
}
