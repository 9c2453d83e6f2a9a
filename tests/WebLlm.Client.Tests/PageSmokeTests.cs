using Bunit;
using WebLlm.Client.Pages;
using WebLlm.Contracts;
using static WebLlm.Client.Tests.TestData;

namespace WebLlm.Client.Tests;

/// <summary>Every page renders against a server with one run and one dataset, and with none.</summary>
public class PageSmokeTests : ClientTestContext
{
    private void Server(bool empty) => UseServer(request => request.RequestUri!.AbsolutePath switch
    {
        ApiRoutes.Runs => FakeHandler.Json(empty ? [] : new[] { Run(1, RunStatus.Running, 100) }),
        ApiRoutes.Datasets => FakeHandler.Json(new[] { Dataset(1) }),
        ApiRoutes.Presets => FakeHandler.Json(new[] { new PresetDto("tiny", 4, 4, 128, 64, 7_000_000) }),
        ApiRoutes.Info => FakeHandler.Json(new ServerInfo("1", "cpu", 2, "2.10", "/data")),
        var p when p == ApiRoutes.RunCheckpoints(1) => FakeHandler.Json(Array.Empty<CheckpointDto>()),
        var p when p == ApiRoutes.RunSystem(1) => FakeHandler.Json(new[] { new SystemMetricDto(DateTime.UtcNow, 50, 1 << 28, 1 << 26, null, null) }),
        var p when p == ApiRoutes.Run(1) => FakeHandler.Json(Run(1, RunStatus.Running, 100)),
        var p when p == ApiRoutes.RunMetricColumns(1) => FakeHandler.Columns([.. Steps(1, 100)]),
        _ => FakeHandler.Json(Array.Empty<object>()),
    });

    public static TheoryData<Type, bool> Pages() => new()
    {
        { typeof(Runs), false }, { typeof(Runs), true }, { typeof(Compare), false }, { typeof(Playground), false },
        { typeof(Datasets), false }, { typeof(SystemPage), false }, { typeof(SystemPage), true },
    };

    [Theory]
    [MemberData(nameof(Pages))]
    public void Page_renders(Type page, bool empty)
    {
        Server(empty);
        var cut = Render(builder =>
        {
            builder.OpenComponent(0, page);
            builder.CloseComponent();
        });
        cut.WaitForAssertion(() => Assert.DoesNotContain("mud-progress-linear-indeterminate", cut.Markup));
        Assert.NotEmpty(cut.Markup);
    }

    [Fact]
    public void Runs_table_shows_the_engine_of_external_and_imported_runs()
    {
        UseServer(request => request.RequestUri!.AbsolutePath == ApiRoutes.Runs
            ? FakeHandler.Json(new[] { Run(1, RunStatus.Running, 10) with { Engine = "llm.c" }, Run(2, RunStatus.Completed, 0) with { Engine = "import: llm.c" }, Run(3) })
            : FakeHandler.Json(Array.Empty<object>()));
        var cut = Render<Runs>();
        cut.WaitForAssertion(() => Assert.Equal(3, cut.FindAll("[data-testid=run-name]").Count));
        Assert.Equal(["import: llm.c", "llm.c"], cut.FindAll("[data-testid=run-engine]").Select(e => e.TextContent.Trim()).Order());
    }

    [Fact]
    public void Runs_page_offers_one_click_start_when_there_are_no_runs()
    {
        Server(empty: true);
        var cut = Render<Runs>();
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=start-defaults]")));
    }

    [Fact]
    public void Compare_overlays_the_selected_runs()
    {
        Server(empty: false);
        var cut = Render<Compare>();
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=compare-empty]")));
    }
}
