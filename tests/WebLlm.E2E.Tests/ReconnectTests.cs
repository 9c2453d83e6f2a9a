using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using WebLlm.Contracts;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace WebLlm.E2E.Tests;

/// <summary>
/// The live connection drops while a run trains (Playwright cuts the hub's WebSocket and refuses new ones):
/// the UI says so, keeps retrying, and once it is back fills the gap from REST so the chart has every step.
/// </summary>
public abstract class ReconnectTests(WebLlmAppFixture app, ITestOutputHelper output) : BrowserTest(app, output)
{
    private static readonly Regex Hub = new("/hubs/training");
    private readonly List<IWebSocketRoute> _sockets = [];
    private volatile bool _blocked;

    [Fact]
    public async Task Dropped_connection_shows_banner_retries_and_fills_the_gap()
    {
        await Page.RouteWebSocketAsync(Hub, ws =>
        {
            if (_blocked)
            {
                _ = ws.CloseAsync(new() { Code = 1011, Reason = "cut by the test" });
                return;
            }
            ws.ConnectToServer();
            lock (_sockets) _sockets.Add(ws);
        });
        // SignalR would fall back to server-sent events or long polling: refuse those too while cut.
        await Page.RouteAsync(Hub, async route =>
        {
            if (_blocked) await route.AbortAsync();
            else await route.ContinueAsync();
        });

        using var http = new HttpClient { BaseAddress = App.BaseAddress };
        var created = await http.PostAsJsonAsync(ApiRoutes.Runs, new CreateRunRequest { Preset = "tiny", Name = "reconnect", MaxSteps = 100_000, SampleEvery = 0, EvalEvery = 0 });
        var run = (await created.Content.ReadFromJsonAsync<RunDto>())!;
        try
        {
            await OpenAsync($"/runs/{run.Id}");
            await Expect(TestId("run-status")).ToHaveAttributeAsync("data-status", "Running", new() { Timeout = 90_000 });
            await Expect(TestId("chart-lr")).ToHaveAttributeAsync("data-points", new Regex(@"^[1-9]\d+$"), new() { Timeout = 60_000 });

            _blocked = true;
            foreach (var ws in Snapshot()) await ws.CloseAsync(new() { Code = 1011, Reason = "cut by the test" });
            await Expect(TestId("disconnected-banner")).ToBeVisibleAsync(new() { Timeout = 15_000 });
            await Expect(TestId("connection-status")).Not.ToHaveAttributeAsync("data-state", "Connected");
            var stepWhileCut = await CurrentStepAsync(http, run.Id);
            await WaitUntilAsync(async () => await CurrentStepAsync(http, run.Id) > stepWhileCut + 20); // steps the page misses
            await App.ScreenshotAsync(Page, "reconnecting");

            _blocked = false;
            await Expect(TestId("connection-status")).ToHaveAttributeAsync("data-state", "Connected", new() { Timeout = 30_000 });
            await Expect(TestId("disconnected-banner")).ToBeHiddenAsync();

            // Pause so the count holds still, then every step 1..N must be on the chart exactly once.
            await http.PostAsync(ApiRoutes.RunAction(run.Id, "pause"), null);
            await WaitUntilAsync(async () => (await http.GetFromJsonAsync<RunDto>(ApiRoutes.Run(run.Id)))!.Status == RunStatus.Paused);
            var paused = (await http.GetFromJsonAsync<RunDto>(ApiRoutes.Run(run.Id)))!;
            await Expect(TestId("chart-lr")).ToHaveAttributeAsync("data-points", paused.CurrentStep.ToString(), new() { Timeout = 30_000 });
            await Expect(TestId("chart-lr")).ToHaveAttributeAsync("data-last-x", paused.CurrentStep.ToString());
        }
        finally
        {
            await http.PostAsync(ApiRoutes.RunAction(run.Id, "stop"), null);
        }
        // Chromium reports the refused connections; the app itself must not fail.
        AssertNoBrowserErrors("ERR_FAILED", "WebSocket", "hubs/training", "Failed to start the connection", "Connection disconnected", "Failed to complete negotiation");
    }

    private List<IWebSocketRoute> Snapshot()
    {
        lock (_sockets) return [.. _sockets];
    }

    private static async Task<long> CurrentStepAsync(HttpClient http, int runId) =>
        (await http.GetFromJsonAsync<RunDto>(ApiRoutes.Run(runId)))!.CurrentStep;

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 60 s");
            await Task.Delay(200);
        }
    }

    [Collection(BrowserCollection.Name)]
    public sealed class Build(WebLlmAppFixture app, ITestOutputHelper output) : ReconnectTests(app, output);

    [Collection(PublishedBrowserCollection.Name)]
    public sealed class Published(PublishedAppFixture app, ITestOutputHelper output) : ReconnectTests(app, output);
}
