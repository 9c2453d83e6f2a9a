using System.Globalization;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using WebLlm.Contracts;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace WebLlm.E2E.Tests;

/// <summary>
/// The main story, in one test because the server trains one run at a time: start a run from the UI with the
/// defaults, watch it advance, pause, reload and see every step, generate in the playground, resume, see a
/// sample, compare, look at the system panel, stop.
/// </summary>
public abstract partial class TrainingFlowTests(WebLlmAppFixture app, ITestOutputHelper output) : BrowserTest(app, output)
{
    private static readonly LocatorAssertionsToHaveAttributeOptions Long = new() { Timeout = 90_000 };

    [Fact]
    public async Task Start_watch_pause_reload_generate_resume_sample_stop()
    {
        await OpenAsync("/");
        await Expect(TestId("new-run")).ToBeVisibleAsync(Boot);
        if (await TestId("runs-empty").IsVisibleAsync())
        {
            await App.ScreenshotAsync(Page, "runs-empty");
            await TestId("start-defaults").ClickAsync();
        }
        else
        {
            await TestId("new-run").ClickAsync();
            await TestId("submit-run").ClickAsync();
        }

        // The run page: the step counter and the loss chart advance.
        await Page.WaitForURLAsync(RunUrl(), new() { Timeout = 30_000 });
        var runId = int.Parse(RunUrl().Match(Page.Url).Groups["id"].Value);
        await Expect(TestId("run-status")).ToHaveAttributeAsync("data-status", "Running", Long);
        var first = await StepAsync();
        await Expect(TestId("chart-loss")).ToHaveAttributeAsync("data-points", new Regex(@"^([2-9]\d|\d{3,})$"), Long);
        await WaitForStepAsync(first + 20);
        var pointsBefore = int.Parse((await TestId("chart-loss").GetAttributeAsync("data-points"))!);
        await WaitForStepAsync(await StepAsync() + 10);
        // The charts redraw every other second, the step counter every second.
        await Expect(TestId("chart-loss")).Not.ToHaveAttributeAsync("data-points", pointsBefore.ToString(CultureInfo.InvariantCulture), Long);
        Assert.True(int.Parse((await TestId("chart-loss").GetAttributeAsync("data-points"))!) > pointsBefore, "the loss chart advances");
        await App.ScreenshotAsync(Page, "run");
        var themeToggle = Page.GetByRole(AriaRole.Button, new() { Name = "Toggle dark mode" });
        await themeToggle.ClickAsync();
        await App.ScreenshotAsync(Page, "run-dark");
        await themeToggle.ClickAsync();

        // Pause: buttons follow the status, the step stops moving.
        await TestId("pause").ClickAsync();
        await Expect(TestId("run-status")).ToHaveAttributeAsync("data-status", "Paused", Long);
        await Expect(TestId("pause")).ToBeDisabledAsync();
        await Expect(TestId("resume")).ToBeEnabledAsync();
        var paused = await PausedRunAsync(runId);

        // Reload: the whole history comes back from REST, every step once (the lr chart has one point a step).
        await Page.ReloadAsync();
        await Expect(TestId("connection-status")).ToHaveAttributeAsync("data-state", "Connected", new() { Timeout = 60_000 });
        await Expect(TestId("chart-lr")).ToHaveAttributeAsync("data-points", paused.CurrentStep.ToString(), Long);
        await Expect(TestId("chart-lr")).ToHaveAttributeAsync("data-last-x", paused.CurrentStep.ToString());
        await Expect(TestId("run-step")).ToContainTextAsync($"{paused.CurrentStep:N0} /");

        // Playground: pausing wrote a checkpoint, so generation works.
        await OpenAsync($"/playground?run={runId}");
        await TestId("playground-prompt").Locator("textarea").FillAsync("The ");
        await TestId("generate").ClickAsync();
        await Expect(TestId("playground-tps")).ToBeVisibleAsync(new() { Timeout = 60_000 });
        await Expect(TestId("playground-step")).ToHaveTextAsync(paused.CurrentStep.ToString());
        var text = await TestId("playground-output").InnerTextAsync();
        Assert.True(text.Length > "The ".Length, $"generated text: '{text}'");
        await App.ScreenshotAsync(Page, "playground");

        // Resume, then wait for the first sample (the default cadence is 250 steps).
        await OpenAsync($"/runs/{runId}");
        await TestId("resume").ClickAsync();
        await Expect(TestId("run-status")).ToHaveAttributeAsync("data-status", "Running", Long);
        await Expect(TestId("pause")).ToBeEnabledAsync();

        // Reload while it trains: history from REST plus the live stream, every step exactly once, no gap.
        await Page.ReloadAsync();
        await Expect(TestId("connection-status")).ToHaveAttributeAsync("data-state", "Connected", new() { Timeout = 60_000 });
        var resumedAt = paused.CurrentStep;
        await WaitForStepAsync(resumedAt + 30);
        // The charts redraw every other second: wait for the one that shows those steps.
        await Page.WaitForFunctionAsync($"() => Number(document.querySelector('[data-testid=chart-lr]')?.dataset.lastX ?? 0) > {resumedAt + 30}",
            null, new() { Timeout = 60_000, PollingInterval = 100 });
        var (points, lastStep) = await LrChartAsync();
        Assert.True(lastStep > resumedAt + 30, $"live steps after the reload (last {lastStep})");
        Assert.Equal(lastStep, points); // steps 1..N, each once

        await Page.GetByRole(AriaRole.Tab, new() { NameRegex = new Regex("^Samples") }).ClickAsync();
        await Expect(TestId("sample-text").First).ToBeVisibleAsync(new() { Timeout = 120_000 });
        await App.ScreenshotAsync(Page, "samples");
        await Page.GetByRole(AriaRole.Tab, new() { Name = "Config" }).ClickAsync();
        await Expect(TestId("run-config")).ToContainTextAsync("n_embd");
        await Page.GetByRole(AriaRole.Tab, new() { Name = "System" }).ClickAsync();
        await Expect(TestId("chart-cpu")).ToHaveAttributeAsync("data-points", new Regex(@"^[1-9]\d*$"), Long);
        await Page.GetByRole(AriaRole.Tab, new() { Name = "Charts" }).ClickAsync();

        // The runs list, compare and system pages while it trains.
        await TestId("nav-runs").ClickAsync();
        await Expect(TestId("runs-table")).ToContainTextAsync("Running");
        await App.ScreenshotAsync(Page, "runs");
        await TestId("nav-compare").ClickAsync();
        await TestId("compare-runs").Locator(".mud-input-control").ClickAsync();
        await Page.Locator(".mud-popover-open .mud-list-item").First.ClickAsync();
        await Page.Keyboard.PressAsync("Escape");
        await Expect(TestId("compare-loss")).ToHaveAttributeAsync("data-points", new Regex(@"^[1-9]\d+$"), Long);
        await Expect(TestId("compare-table")).ToContainTextAsync("Best train loss");
        await App.ScreenshotAsync(Page, "compare");
        await TestId("nav-system").ClickAsync();
        await Expect(TestId("chart-cpu")).ToHaveAttributeAsync("data-points", new Regex(@"^[1-9]\d*$"), Long);
        await App.ScreenshotAsync(Page, "system");

        // Stop: final, no control left but none needed.
        await OpenAsync($"/runs/{runId}");
        await TestId("stop").ClickAsync();
        await Expect(TestId("run-status")).ToHaveAttributeAsync("data-status", "Stopped", Long);
        await Expect(TestId("stop")).ToBeDisabledAsync();
        await Expect(TestId("resume")).ToBeDisabledAsync();
        await Expect(Page.Locator("#blazor-error-ui")).ToBeHiddenAsync();
        AssertNoBrowserErrors();
    }

    /// <summary>Points on the learning-rate chart (one a step) and its last step, read at one instant.</summary>
    private async Task<(long Points, long LastStep)> LrChartAsync()
    {
        var values = await TestId("chart-lr").EvaluateAsync<string[]>("e => [e.dataset.points, e.dataset.lastX]");
        return (long.Parse(values[0]), long.Parse(values[1]));
    }

    private async Task<long> StepAsync()
    {
        var text = await TestId("run-step").InnerTextAsync(); // "1,234 / 2,000"
        return long.Parse(text.Split('/')[0].Trim().Replace(",", ""));
    }

    private async Task WaitForStepAsync(long step)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (await StepAsync() < step)
        {
            Assert.True(DateTime.UtcNow < deadline, $"step {step} not reached");
            await Page.WaitForTimeoutAsync(200);
        }
    }

    /// <summary>The run as the server has it once the pause took effect (a step boundary later).</summary>
    private async Task<RunDto> PausedRunAsync(int runId)
    {
        using var http = new HttpClient { BaseAddress = App.BaseAddress };
        var run = await http.GetFromJsonAsync<RunDto>(ApiRoutes.Run(runId));
        Assert.Equal(RunStatus.Paused, run!.Status);
        return run;
    }

    [GeneratedRegex(@"/runs/(?<id>\d+)$")]
    private static partial Regex RunUrl();

    [Collection(BrowserCollection.Name)]
    public sealed class Build(WebLlmAppFixture app, ITestOutputHelper output) : TrainingFlowTests(app, output);

    [Collection(PublishedBrowserCollection.Name)]
    public sealed class Published(PublishedAppFixture app, ITestOutputHelper output) : TrainingFlowTests(app, output);
}
