using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using WebLlm.Contracts;

namespace WebLlm.Server.Tests;

public sealed class ExternalRunTests : IAsyncLifetime
{
    private const string Key = "s3cret-test-key";
    private readonly WebLlmFactory factory = new(null, new Dictionary<string, string> { ["WebLlm:ApiKey"] = Key });
    private HttpClient http = null!;

    public Task InitializeAsync()
    {
        http = factory.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await factory.DisposeAsync();

    private async Task<RunDto> CreateAsync(string name = "llmc-124M")
    {
        var response = await http.PostAsJsonAsync(ApiRoutes.ExternalRuns, new CreateExternalRunRequest { Name = name, Engine = "llm.c", MaxSteps = 100, Source = "/runs/main.log" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<RunDto>())!;
    }

    private async Task<(HttpStatusCode Status, IngestResult? Result, string Body)> IngestAsync(int id, IngestMetricsRequest request)
    {
        var response = await http.PostAsJsonAsync(ApiRoutes.RunMetrics(id), request);
        string body = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, response.IsSuccessStatusCode ? System.Text.Json.JsonSerializer.Deserialize<IngestResult>(body, System.Text.Json.JsonSerializerOptions.Web) : null, body);
    }

    [Fact]
    public async Task A_long_history_posted_at_once_is_stored_when_the_answer_comes()
    {
        var run = await CreateAsync("llmc-long");
        var steps = Enumerable.Range(1, 9_000).Select(s => new IngestStep(s, 10.0 / s, Milliseconds: 40)).ToList();

        // More than the writer's 2,000-row batch in one request: all of it is in the database when the answer comes.
        var first = await IngestAsync(run.Id, new IngestMetricsRequest { Steps = steps[..5_000] });
        Assert.Equal(5_000, first.Result!.AcceptedSteps);
        var stored = await http.GetFromJsonAsync<MetricsPage>(ApiRoutes.RunMetrics(run.Id));
        Assert.Equal(5_000, stored!.Steps.Count);

        // Then in pieces, each read back as soon as it is answered.
        for (int from = 5_000; from < 9_000; from += 1_000)
        {
            var piece = await IngestAsync(run.Id, new IngestMetricsRequest { Steps = steps[from..(from + 1_000)] });
            Assert.Equal(1_000, piece.Result!.AcceptedSteps);
            Assert.Equal(from + 1_000, (await http.GetFromJsonAsync<MetricsPage>(ApiRoutes.RunMetrics(run.Id, fromStep: from + 1)))!.ToStep);
        }
        var all = (await http.GetFromJsonAsync<MetricsPage>(ApiRoutes.RunMetrics(run.Id)))!.Steps;
        Assert.Equal(Enumerable.Range(1, 9_000).Select(s => (long)s), all.Select(s => s.Step));
        Assert.Equal(10.0 / 9_000, all[^1].Loss);
    }

    [Fact]
    public async Task Ingested_steps_show_like_a_local_run_once_each_and_the_run_finishes()
    {
        var run = await CreateAsync();
        Assert.Equal(RunStatus.Running, run.Status);
        Assert.Equal("llm.c", run.Engine);

        var first = await IngestAsync(run.Id, new IngestMetricsRequest
        {
            Steps = [new IngestStep(1, 10.9, 6e-6, 14.9), new IngestStep(2, 10.5, 1.2e-5, 12.0, Milliseconds: 250), new IngestStep(3, null)],
            Evals = [new IngestEval(0, 11.0)],
        });
        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal((3, 0, 1, 3L), (first.Result!.AcceptedSteps, first.Result.DuplicateSteps, first.Result.AcceptedEvals, first.Result.LastStep));

        // A restarted watcher sends the log again, plus one new line.
        var again = await IngestAsync(run.Id, new IngestMetricsRequest { Steps = [new IngestStep(2, 10.5), new IngestStep(3, 9.9), new IngestStep(4, 9.7)] });
        Assert.Equal((1, 2), (again.Result!.AcceptedSteps, again.Result.DuplicateSteps));

        var api = new Api(http);
        var done = await IngestAsync(run.Id, new IngestMetricsRequest { Status = RunStatus.Completed, Reason = "log read to the end" });
        Assert.Equal(RunStatus.Completed, done.Result!.Status);
        var page = await http.GetFromJsonAsync<MetricsPage>(ApiRoutes.RunMetrics(run.Id));
        Assert.Equal([1L, 2, 3, 4], page!.Steps.Select(s => s.Step));
        Assert.True(page.Steps[2].NonFinite);
        Assert.Null(page.Steps[2].Loss);
        Assert.Equal(1.2e-5, page.Steps[1].LearningRate);
        var finished = await api.GetRunAsync(run.Id);
        Assert.Equal((4L, 9.7, 11.0), (finished.CurrentStep, finished.LastLoss!.Value, finished.BestValLoss!.Value));

        var revive = await IngestAsync(run.Id, new IngestMetricsRequest { Status = RunStatus.Running });
        Assert.Equal(HttpStatusCode.Conflict, revive.Status);
        Assert.Contains(ErrorCodes.InvalidTransition, revive.Body);
    }

    [Fact]
    public async Task External_runs_cannot_be_paused_or_resumed_and_stop_ends_watching()
    {
        var run = await CreateAsync("nano");
        Assert.Equal(HttpStatusCode.Conflict, (await http.PostAsync(ApiRoutes.RunAction(run.Id, "pause"), null)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await http.PostAsync(ApiRoutes.RunAction(run.Id, "resume"), null)).StatusCode);
        var stop = await http.PostAsync(ApiRoutes.RunAction(run.Id, "stop"), null);
        Assert.True(stop.IsSuccessStatusCode, await stop.Content.ReadAsStringAsync());
        Assert.Equal(RunStatus.Stopped, (await new Api(http).GetRunAsync(run.Id)).Status);
    }

    [Fact]
    public async Task Ingestion_needs_the_key_and_an_external_run()
    {
        var run = await CreateAsync();
        using var anonymous = factory.CreateClient();
        var noKey = await anonymous.PostAsJsonAsync(ApiRoutes.RunMetrics(run.Id), new IngestMetricsRequest());
        Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
        Assert.Contains(ErrorCodes.Unauthorized, await noKey.Content.ReadAsStringAsync());
        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key + "x");
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync(ApiRoutes.ExternalRuns, new CreateExternalRunRequest { Name = "x", Engine = "y" })).StatusCode);

        var local = await new Api(http).LaunchAsync(Api.Tiny(maxSteps: 5));
        var wrongRun = await IngestAsync(local.Id, new IngestMetricsRequest { Steps = [new IngestStep(1, 1.0)] });
        Assert.Equal(HttpStatusCode.Conflict, wrongRun.Status);
        Assert.Contains(ErrorCodes.NotExternal, wrongRun.Body);
        Assert.Equal(HttpStatusCode.NotFound, (await IngestAsync(99999, new IngestMetricsRequest())).Status);

        var invalid = await http.PostAsJsonAsync(ApiRoutes.ExternalRuns, new CreateExternalRunRequest { Name = "", Engine = "" });
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        string body = await invalid.Content.ReadAsStringAsync();
        Assert.Contains("\"name\"", body);
        Assert.Contains("\"engine\"", body);
    }

    [Fact]
    public async Task Without_a_configured_key_external_runs_are_refused()
    {
        await using var open = new WebLlmFactory();
        var response = await open.CreateClient().PostAsJsonAsync(ApiRoutes.ExternalRuns, new CreateExternalRunRequest { Name = "x", Engine = "llm.c" });
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains(ErrorCodes.ApiKeyRequired, await response.Content.ReadAsStringAsync());
    }
}

/// <summary><c>webllm watch</c>'s watcher against the real app: a growing llm.c log becomes a run.</summary>
public sealed class WatchTests : IAsyncLifetime
{
    private const string Key = "watch-key";
    private readonly WebLlmFactory factory = new(null, new Dictionary<string, string> { ["WebLlm:ApiKey"] = Key });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await factory.DisposeAsync();

    [Fact]
    public async Task A_finished_log_longer_than_one_request_is_sent_whole()
    {
        string dir = Directory.CreateTempSubdirectory("webllm-watch-").FullName;
        try
        {
            // 12,000 steps: as one request, several times the server's 1 MB body limit.
            string log = Path.Combine(dir, "main.log");
            File.WriteAllLines(log, Enumerable.Range(0, 12_000).Select(s => $"s:{s} trl:{10.0 - s / 2000.0:F4} lr:0.000600 norm:{1 + s % 7 / 10.0:F2}"));
            var http = factory.CreateClient();
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);

            int exit = await new WebLlm.Cli.LogWatcher(http, log, format: null).RunAsync(null, "finished", null, once: true, TimeSpan.Zero, CancellationToken.None);

            Assert.Equal(0, exit);
            var run = (await http.GetFromJsonAsync<List<RunDto>>(ApiRoutes.Runs))!.Single(r => r.Name == "finished");
            Assert.Equal((RunStatus.Completed, 11_999L), (run.Status, run.CurrentStep));
            var steps = await new Api(http).MetricsAsync(run.Id);
            Assert.Equal(Enumerable.Range(0, 12_000).Select(s => (long)s), steps.Select(s => s.Step));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_growing_llmc_log_is_followed_until_the_watcher_stops()
    {
        string dir = Directory.CreateTempSubdirectory("webllm-watch-").FullName;
        try
        {
            string log = Path.Combine(dir, "main.log");
            File.WriteAllText(log, "s:0 tel:11.0094\ns:0 trl:11.0117 lr:0.000000 norm:15.43\ns:1 trl:10.9354 lr:0.000001 norm:14.92\n");
            var http = factory.CreateClient();
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
            using var cts = new CancellationTokenSource();
            var watcher = new WebLlm.Cli.LogWatcher(http, log, format: null);
            var watching = watcher.RunAsync(null, "gpt2-124M", 10, once: false, TimeSpan.FromMilliseconds(50), cts.Token);

            var api = new Api(http);
            var runs = await http.GetFromJsonAsync<List<RunDto>>(ApiRoutes.Runs);
            var deadline = DateTime.UtcNow + Api.Patience;
            RunDto? run = null;
            while (run is not { CurrentStep: 1 } && DateTime.UtcNow < deadline)
            {
                run = (await http.GetFromJsonAsync<List<RunDto>>(ApiRoutes.Runs))!.FirstOrDefault(r => r.Name == "gpt2-124M");
                await Task.Delay(50);
            }
            Assert.NotNull(run);
            Assert.Equal("llm.c", run.Engine);
            File.AppendAllText(log, "s:2 trl:10.8 lr:0.000002 norm:13.0\ns:2 tel:10.7\n");
            await api.WaitForAsync(run.Id, r => r.CurrentStep == 2 && r.LastValLoss is not null, "step 2 from the appended lines");
            cts.Cancel();
            Assert.Equal(0, await watching);
            var final = await api.GetRunAsync(run.Id);
            Assert.Equal(RunStatus.Stopped, final.Status);
            var page = await http.GetFromJsonAsync<MetricsPage>(ApiRoutes.RunMetrics(run.Id));
            Assert.Equal([0L, 1, 2], page!.Steps.Select(s => s.Step));
            Assert.Equal(10.7, final.BestValLoss!.Value, 6);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
