using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace WebLlm.E2E.Tests;

/// <summary>Four live charts over 50,000 steps (growing ten times a second) stay responsive in the browser.</summary>
public abstract class ChartPerformanceTests(WebLlmAppFixture app, ITestOutputHelper output) : BrowserTest(app, output)
{
    private static readonly TimeSpan Responsive = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Fifty_thousand_steps_stay_responsive()
    {
        await OpenAsync("/dev/chart-bench");
        await Expect(TestId("bench-loss")).ToHaveAttributeAsync("data-points", new Regex(@"^(5\d{4}|[6-9]\d{4})$"), new() { Timeout = 60_000 });

        var clock = Stopwatch.StartNew();
        await Page.GetByText("Log y", new() { Exact = true }).ClickAsync();
        await Expect(TestId("bench-loss")).ToHaveAttributeAsync("data-log-y", "true");
        var logToggle = clock.Elapsed;

        var plot = TestId("bench-loss").Locator(".wl-overlay");
        var box = (await plot.BoundingBoxAsync())!;
        clock.Restart();
        await Page.Mouse.MoveAsync((float)(box.X + box.Width * 0.2), (float)(box.Y + box.Height / 2));
        await Expect(TestId("bench-loss").Locator(".wl-tooltip")).ToBeVisibleAsync();
        var hover = clock.Elapsed;

        clock.Restart();
        await Page.Mouse.DownAsync();
        await Page.Mouse.MoveAsync((float)(box.X + box.Width * 0.3), (float)(box.Y + box.Height / 2), new() { Steps = 5 });
        await Page.Mouse.MoveAsync((float)(box.X + box.Width * 0.4), (float)(box.Y + box.Height / 2), new() { Steps = 5 });
        await Page.Mouse.UpAsync();
        await Expect(TestId("bench-loss")).ToHaveAttributeAsync("data-zoomed", "true");
        var zoom = clock.Elapsed;
        await App.ScreenshotAsync(Page, "chart-bench");

        var render = await TestId("bench-render-ms").InnerTextAsync();
        Log($"log toggle {logToggle.TotalMilliseconds:0} ms, hover {hover.TotalMilliseconds:0} ms, drag-zoom {zoom.TotalMilliseconds:0} ms, {render}");
        Assert.True(logToggle < Responsive, $"log toggle took {logToggle}");
        Assert.True(hover < Responsive, $"hover took {hover}");
        Assert.True(zoom < Responsive + Responsive, $"drag zoom took {zoom}");
        AssertNoBrowserErrors();
    }

    [Collection(BrowserCollection.Name)]
    public sealed class Build(WebLlmAppFixture app, ITestOutputHelper output) : ChartPerformanceTests(app, output);

    [Collection(PublishedBrowserCollection.Name)]
    public sealed class Published(PublishedAppFixture app, ITestOutputHelper output) : ChartPerformanceTests(app, output);
}
