using System.Net;
using Bunit;
using WebLlm.Client.Pages;
using WebLlm.Contracts;
using static WebLlm.Client.Tests.TestData;

namespace WebLlm.Client.Tests;

public class RunPageTests : ClientTestContext
{
    private FakeHandler Server(RunDto run) => UseServer(request => request.RequestUri!.AbsolutePath switch
    {
        var p when p == ApiRoutes.Run(run.Id) => FakeHandler.Json(run),
        var p when p == ApiRoutes.RunMetricColumns(run.Id) => FakeHandler.Columns([.. Steps(1, 100)]),
        var p when p == ApiRoutes.RunEvals(run.Id) => FakeHandler.Json(new[] { new EvalDto(100, 2.7, DateTime.UtcNow) }),
        var p when p == ApiRoutes.RunSamples(run.Id) => FakeHandler.Json(new[] { new SampleDto(100, "The ", "The cat", DateTime.UtcNow) }),
        var p when p == ApiRoutes.RunCheckpoints(run.Id) => FakeHandler.Json(Array.Empty<CheckpointDto>()),
        var p when p == ApiRoutes.RunSystem(run.Id) => FakeHandler.Json(Array.Empty<SystemMetricDto>()),
        var p when p == ApiRoutes.RunAction(run.Id, "pause") => FakeHandler.Json(run with { Status = RunStatus.Paused }),
        var p when p == ApiRoutes.RunAction(run.Id, "sample") || p == ApiRoutes.RunAction(run.Id, "checkpoint") => FakeHandler.Json(run, HttpStatusCode.Accepted),
        _ => new HttpResponseMessage(HttpStatusCode.NotFound),
    });

    private static bool Disabled(IRenderedComponent<RunPage> page, string id) => page.Find($"[data-testid={id}]").HasAttribute("disabled");

    [Theory]
    [InlineData(RunStatus.Running, true, false, true)]
    [InlineData(RunStatus.Paused, false, true, true)]
    [InlineData(RunStatus.Queued, false, false, true)]
    [InlineData(RunStatus.Completed, false, false, false)]
    public void Buttons_are_enabled_only_for_valid_transitions(RunStatus status, bool pause, bool resume, bool stop)
    {
        Server(Run(3, status, 100));
        var page = Render<RunPage>(p => p.Add(r => r.Id, 3));

        page.WaitForAssertion(() => Assert.Equal(status.ToString(), page.Find("[data-testid=run-status]").GetAttribute("data-status")));
        Assert.Equal(!pause, Disabled(page, "pause"));
        Assert.Equal(!resume, Disabled(page, "resume"));
        Assert.Equal(!stop, Disabled(page, "stop"));
        Assert.Equal(status != RunStatus.Running, Disabled(page, "sample-now"));
        Assert.Equal(status != RunStatus.Running, Disabled(page, "checkpoint-now"));
    }

    [Fact]
    public void Sample_now_and_checkpoint_now_post_their_actions()
    {
        var server = Server(Run(3, RunStatus.Running, 100));
        var page = Render<RunPage>(p => p.Add(r => r.Id, 3));
        page.WaitForAssertion(() => Assert.False(Disabled(page, "sample-now")));

        page.Find("[data-testid=sample-now]").Click();
        page.WaitForAssertion(() => Assert.Contains(server.Requests, r => r.Method == HttpMethod.Post && r.PathAndQuery == ApiRoutes.RunAction(3, "sample")));
        page.WaitForAssertion(() => Assert.False(Disabled(page, "checkpoint-now")));
        page.Find("[data-testid=checkpoint-now]").Click();
        page.WaitForAssertion(() => Assert.Contains(server.Requests, r => r.Method == HttpMethod.Post && r.PathAndQuery == ApiRoutes.RunAction(3, "checkpoint")));
    }

    [Fact]
    public void Shows_history_in_the_loss_chart_and_pausing_updates_the_status()
    {
        var server = Server(Run(3, RunStatus.Running, 100));
        var page = Render<RunPage>(p => p.Add(r => r.Id, 3));

        page.WaitForAssertion(() => Assert.Equal("101", page.Find("[data-testid=chart-loss]").GetAttribute("data-points"))); // 100 steps + 1 eval
        Assert.Contains("100 / 1,000", page.Find("[data-testid=run-step]").TextContent);

        page.Find("[data-testid=pause]").Click();

        page.WaitForAssertion(() => Assert.Equal("Paused", page.Find("[data-testid=run-status]").GetAttribute("data-status")));
        Assert.Contains(server.Requests, r => r.Method == HttpMethod.Post && r.PathAndQuery == ApiRoutes.RunAction(3, "pause"));
        Assert.False(Disabled(page, "resume"));
    }

    [Theory]
    [InlineData("llm.c", RunStatus.Running, true)]
    [InlineData("import: Hugging Face", RunStatus.Completed, false)]
    public void Runs_with_an_engine_show_it_and_offer_only_what_applies(string engine, RunStatus status, bool stop)
    {
        Server(Run(3, status, 100) with { Engine = engine });
        var page = Render<RunPage>(p => p.Add(r => r.Id, 3));

        page.WaitForAssertion(() => Assert.Equal(engine, page.Find("[data-testid=run-engine]").TextContent.Trim()));
        Assert.Empty(page.FindAll("[data-testid=pause]"));
        Assert.Empty(page.FindAll("[data-testid=resume]"));
        Assert.Empty(page.FindAll("[data-testid=sample-now]"));
        Assert.Equal(stop, page.FindAll("[data-testid=stop]").Count == 1);
    }
}
