using System.Net;
using System.Net.Http.Json;
using WebLlm.Contracts;
using WebLlm.Server.Runs;

namespace WebLlm.Server.Tests;

/// <summary>Launch, pause, resume, stop, queueing and generation against one server (tests in a class run one at a time).</summary>
public class TrainingTests(WebLlmFactory factory) : IClassFixture<WebLlmFactory>
{
    private readonly Api api = new(factory.CreateClient());

    [Fact]
    public async Task Launch_stores_every_step_once_then_completes_with_a_final_checkpoint()
    {
        var run = await api.LaunchAsync(Api.Tiny(maxSteps: 25));
        Assert.Equal("tiny-" + run.Id, run.Name);
        Assert.Equal("cpu", run.Device);

        var done = await api.WaitForStatusAsync(run.Id, RunStatus.Completed);

        var steps = await api.MetricsAsync(run.Id);
        Assert.Equal(Enumerable.Range(1, 25).Select(i => (long)i), steps.Select(s => s.Step));
        Assert.All(steps, s => Assert.True(s.Loss > 0 && s.TokensSeen == s.Step * 4 * 32 && !s.NonFinite));
        var checkpoints = await api.ListAsync<CheckpointDto>(ApiRoutes.RunCheckpoints(run.Id));
        Assert.Equal([10L, 20L, 25L], checkpoints.Select(c => c.Step));
        Assert.All(checkpoints, c => Assert.Matches("^[0-9a-f]{64}$", c.Sha256));
        Assert.True(File.Exists(Path.Combine(factory.DataDirectory, "runs", run.Id.ToString(), "checkpoints", "step_00000025", "model.safetensors")));
        Assert.Equal([10L, 20L, 25L], (await api.ListAsync<EvalDto>(ApiRoutes.RunEvals(run.Id))).Select(e => e.Step));
        Assert.Equal([20L, 25L], (await api.ListAsync<SampleDto>(ApiRoutes.RunSamples(run.Id))).Select(e => e.Step));
        Assert.Equal(25, done.CurrentStep);
        Assert.Equal(25, done.LatestCheckpointStep);
        Assert.NotNull(done.BestValLoss);
        Assert.NotNull(done.EndedUtc);
        var transitions = await api.ListAsync<RunTransitionDto>(ApiRoutes.RunTransitions(run.Id));
        Assert.Equal([RunStatus.Queued, RunStatus.Running, RunStatus.Completed], transitions.Select(t => t.To));
        Assert.Equal(DateTimeKind.Utc, transitions[0].Utc.Kind);
    }

    [Fact]
    public async Task Pause_checkpoints_within_a_step_and_resume_continues_exactly()
    {
        var reference = await api.LaunchAsync(Api.Tiny());
        await api.WaitForStatusAsync(reference.Id, RunStatus.Completed);
        var expected = await api.MetricsAsync(reference.Id);

        var run = await api.LaunchAsync(Api.Tiny());
        await api.WaitForAsync(run.Id, r => r.CurrentStep >= 3, "3 steps");
        var pause = await api.CommandAsync(run.Id, "pause");
        Assert.Equal(HttpStatusCode.Accepted, pause.StatusCode);
        var paused = await api.WaitForStatusAsync(run.Id, RunStatus.Paused);

        Assert.InRange(paused.CurrentStep, 3, 39);
        Assert.Equal(paused.CurrentStep, paused.LatestCheckpointStep);
        var checkpoints = await api.ListAsync<CheckpointDto>(ApiRoutes.RunCheckpoints(run.Id));
        Assert.Equal(paused.CurrentStep, checkpoints[^1].Step);
        var again = await api.CommandAsync(run.Id, "pause");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(RunStatus.Paused, (await again.Content.ReadFromJsonAsync<RunDto>())!.Status);
        var resume = await api.CommandAsync(run.Id, "resume");
        Assert.Equal(HttpStatusCode.OK, resume.StatusCode);
        await api.WaitForStatusAsync(run.Id, RunStatus.Completed);

        var actual = await api.MetricsAsync(run.Id);
        Assert.Equal(expected.Select(s => s.Step), actual.Select(s => s.Step));
        Assert.Equal(expected.Select(s => s.Loss), actual.Select(s => s.Loss)); // bit-exact: same data, RNG and optimizer state
        var transitions = await api.ListAsync<RunTransitionDto>(ApiRoutes.RunTransitions(run.Id));
        Assert.Equal([RunStatus.Queued, RunStatus.Running, RunStatus.Paused, RunStatus.Queued, RunStatus.Running, RunStatus.Completed], transitions.Select(t => t.To));
    }

    [Fact]
    public async Task Stop_writes_a_final_checkpoint_repeated_stop_is_a_no_op_and_invalid_transitions_are_409()
    {
        var run = await api.LaunchAsync(Api.Tiny(maxSteps: 2000, checkpointEvery: 0));
        await api.WaitForAsync(run.Id, r => r.CurrentStep >= 2, "2 steps");
        Assert.Equal(HttpStatusCode.Accepted, (await api.CommandAsync(run.Id, "stop")).StatusCode);
        var stopped = await api.WaitForStatusAsync(run.Id, RunStatus.Stopped);
        Assert.Equal(stopped.CurrentStep, stopped.LatestCheckpointStep);
        Assert.Equal(stopped.CurrentStep, (await api.ListAsync<CheckpointDto>(ApiRoutes.RunCheckpoints(run.Id))).Single().Step);

        var again = await api.CommandAsync(run.Id, "stop");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(RunStatus.Stopped, (await again.Content.ReadFromJsonAsync<RunDto>())!.Status);

        var problem = await Api.AssertProblemAsync(await api.CommandAsync(run.Id, "resume"), HttpStatusCode.Conflict, ErrorCodes.InvalidTransition);
        Assert.Contains("Stopped", problem.GetProperty("detail").GetString());
        await Api.AssertProblemAsync(await api.CommandAsync(run.Id, "pause"), HttpStatusCode.Conflict, ErrorCodes.InvalidTransition);
        await Api.AssertProblemAsync(await api.CommandAsync(9999, "stop"), HttpStatusCode.NotFound, ErrorCodes.RunNotFound);

        var running = await api.LaunchAsync(Api.Tiny(maxSteps: 2000));
        await api.WaitForStatusAsync(running.Id, RunStatus.Running);
        await Api.AssertProblemAsync(await api.CommandAsync(running.Id, "resume"), HttpStatusCode.Conflict, ErrorCodes.InvalidTransition);
        await Api.AssertProblemAsync(await api.Http.DeleteAsync(ApiRoutes.Run(running.Id)), HttpStatusCode.Conflict, ErrorCodes.RunActive);
        await api.CommandAsync(running.Id, "stop");
        await api.WaitForStatusAsync(running.Id, RunStatus.Stopped);

        Assert.Equal(HttpStatusCode.NoContent, (await api.Http.DeleteAsync(ApiRoutes.Run(run.Id))).StatusCode);
        Assert.False(Directory.Exists(Path.Combine(factory.DataDirectory, "runs", run.Id.ToString())));
        await Api.AssertProblemAsync(await api.Http.GetAsync(ApiRoutes.Run(run.Id)), HttpStatusCode.NotFound, ErrorCodes.RunNotFound);
    }

    [Fact]
    public async Task A_second_launch_waits_queued_until_the_first_finishes()
    {
        var first = await api.LaunchAsync(Api.Tiny(maxSteps: 30));
        var second = await api.LaunchAsync(Api.Tiny(maxSteps: 10));
        Assert.Equal(RunStatus.Running, first.Status);
        Assert.Equal(RunStatus.Queued, second.Status);
        Assert.Equal(RunStatus.Queued, (await api.GetRunAsync(second.Id)).Status);

        var firstDone = await api.WaitForStatusAsync(first.Id, RunStatus.Completed);
        await api.WaitForStatusAsync(second.Id, RunStatus.Completed);

        var transitions = await api.ListAsync<RunTransitionDto>(ApiRoutes.RunTransitions(second.Id));
        var started = transitions.Single(t => t.To == RunStatus.Running);
        Assert.True(started.Utc >= firstDone.EndedUtc, $"second started {started.Utc:O}, first ended {firstDone.EndedUtc:O}");
    }

    [Fact]
    public async Task Generate_answers_from_a_checkpoint_while_the_run_trains()
    {
        var training = await api.LaunchAsync(Api.Tiny(maxSteps: 2000, checkpointEvery: 5));
        var queued = await api.LaunchAsync(Api.Tiny());
        var none = await api.Http.PostAsJsonAsync(ApiRoutes.RunGenerate(queued.Id), new GenerateRequest { Prompt = "The " });
        await Api.AssertProblemAsync(none, HttpStatusCode.ServiceUnavailable, ErrorCodes.NoCheckpoint);
        Assert.NotNull(none.Headers.RetryAfter);

        await api.WaitForAsync(training.Id, r => r.LatestCheckpointStep >= 5, "a checkpoint");
        var response = await api.Http.PostAsJsonAsync(ApiRoutes.RunGenerate(training.Id), new GenerateRequest { Prompt = "The ", MaxTokens = 12, Seed = 7 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = (await response.Content.ReadFromJsonAsync<GenerateResponse>())!;
        Assert.Equal(12, answer.CompletionTokens);
        Assert.False(string.IsNullOrEmpty(answer.Text));
        Assert.Equal(4, answer.PromptTokens);
        Assert.True(answer.CheckpointStep >= 5 && answer.TokensPerSecond > 0);
        Assert.Equal(RunStatus.Running, (await api.GetRunAsync(training.Id)).Status);

        var empty = await api.Http.PostAsJsonAsync(ApiRoutes.RunGenerate(training.Id), new GenerateRequest { Prompt = "" });
        Assert.True((await Api.AssertProblemAsync(empty, HttpStatusCode.BadRequest, ErrorCodes.ValidationFailed)).GetProperty("errors").TryGetProperty("prompt", out _));
        var tooLong = await api.Http.PostAsJsonAsync(ApiRoutes.RunGenerate(training.Id), new GenerateRequest { Prompt = new string('a', 40) });
        var problem = await Api.AssertProblemAsync(tooLong, HttpStatusCode.BadRequest, ErrorCodes.ValidationFailed);
        Assert.Contains("context is 32", problem.GetProperty("errors").GetProperty("prompt")[0].GetString());
        var badSampling = await api.Http.PostAsJsonAsync(ApiRoutes.RunGenerate(training.Id), new GenerateRequest { Prompt = "a", TopP = 0, MaxTokens = 0 });
        var errors = (await Api.AssertProblemAsync(badSampling, HttpStatusCode.BadRequest, ErrorCodes.ValidationFailed)).GetProperty("errors");
        Assert.True(errors.TryGetProperty("topP", out _) && errors.TryGetProperty("maxTokens", out _));

        await api.CommandAsync(queued.Id, "stop");
        await api.CommandAsync(training.Id, "stop");
        await api.WaitForStatusAsync(training.Id, RunStatus.Stopped);
        Assert.Equal(RunStatus.Stopped, (await api.GetRunAsync(queued.Id)).Status);
    }

    [Fact]
    public async Task Downsampled_metrics_keep_every_bucket_extreme_and_the_last_step()
    {
        var run = await api.LaunchAsync(Api.Tiny(maxSteps: 30));
        await api.WaitForStatusAsync(run.Id, RunStatus.Completed);
        var all = await api.MetricsAsync(run.Id);
        var page = (await api.Http.GetFromJsonAsync<MetricsPage>(ApiRoutes.RunMetrics(run.Id, maxPoints: 10)))!;

        Assert.True(page.Downsampled);
        Assert.InRange(page.Steps.Count, 2, 11);
        Assert.Equal(30, page.Steps[^1].Step);
        Assert.Contains(page.Steps, s => s.Loss == all.Max(a => a.Loss));
        Assert.Contains(page.Steps, s => s.Loss == all.Min(a => a.Loss));
        Assert.True(page.Steps.Zip(page.Steps.Skip(1)).All(p => p.First.Step < p.Second.Step));
        // The server chooses the rows from steps and losses alone, then loads them: the same rows as downsampling them all.
        Assert.Equal(Downsampler.MinMax(all, 10), page.Steps);
        var ranged = (await api.Http.GetFromJsonAsync<MetricsPage>(ApiRoutes.RunMetrics(run.Id, fromStep: 5, toStep: 9)))!;
        Assert.Equal([5L, 6L, 7L, 8L, 9L], ranged.Steps.Select(s => s.Step));

        // The dashboard's packed columns hold exactly the JSON's steps, for every query.
        foreach (var (json, columns) in new[] { (ApiRoutes.RunMetrics(run.Id), ApiRoutes.RunMetricColumns(run.Id)),
                     (ApiRoutes.RunMetrics(run.Id, maxPoints: 10), ApiRoutes.RunMetricColumns(run.Id, maxPoints: 10)),
                     (ApiRoutes.RunMetrics(run.Id, fromStep: 5, toStep: 9), ApiRoutes.RunMetricColumns(run.Id, fromStep: 5, toStep: 9)),
                     (ApiRoutes.RunMetrics(run.Id, fromStep: 31), ApiRoutes.RunMetricColumns(run.Id, fromStep: 31)) })
        {
            using var response = await api.Http.GetAsync(columns);
            Assert.Equal(StepColumns.MediaType, response.Content.Headers.ContentType?.MediaType);
            var packed = StepColumns.Decode(await response.Content.ReadAsByteArrayAsync());
            Assert.Equal((await api.Http.GetFromJsonAsync<MetricsPage>(json))!.Steps, packed);
        }
    }
}
