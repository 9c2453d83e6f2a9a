using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace WebLlm.E2E.Tests;

public abstract class SystemPageTests(WebLlmAppFixture app, ITestOutputHelper output) : BrowserTest(app, output)
{
    [Fact]
    public async Task System_page_shows_server_is_up_on_cpu()
    {
        await Page.GotoAsync("/system");

        await Expect(TestId("server-status")).ToContainTextAsync("Server is up", new() { Timeout = 60_000 });
        await Expect(TestId("device")).ToHaveTextAsync("cpu");
        await Expect(Page.GetByText(App.DataDirectory)).ToBeVisibleAsync();
        AssertNoBrowserErrors();
    }

    [Fact]
    public async Task Dark_mode_toggle_switches_theme_without_crashing()
    {
        await OpenAsync("/system");
        await Expect(TestId("server-status")).ToContainTextAsync("Server is up");
        var toggle = Page.GetByRole(AriaRole.Button, new() { Name = "Toggle dark mode" });
        var lightBackground = await BackgroundColorAsync();

        await toggle.ClickAsync();
        await Expect(Page.Locator("body")).Not.ToHaveCSSAsync("background-color", lightBackground);
        await toggle.ClickAsync();
        await Expect(Page.Locator("body")).ToHaveCSSAsync("background-color", lightBackground);

        await Expect(Page.Locator("#blazor-error-ui")).ToBeHiddenAsync();
        await Expect(TestId("server-status")).ToContainTextAsync("Server is up");
        AssertNoBrowserErrors();
    }

    [Fact]
    public async Task Unknown_api_route_is_problem_json_in_the_browser_too()
    {
        var response = await Page.GotoAsync("/api/no-such-thing");

        Assert.NotNull(response);
        Assert.Equal(404, response.Status);
        Assert.StartsWith("application/problem+json", response.Headers["content-type"]);
    }

    [Fact]
    public async Task Navigation_drawer_reaches_every_page()
    {
        await OpenAsync("/");
        foreach (var (nav, path) in new[] { ("nav-compare", "/compare"), ("nav-playground", "/playground"), ("nav-datasets", "/datasets"), ("nav-system", "/system"), ("nav-runs", "/") })
        {
            await TestId(nav).ClickAsync();
            await Expect(Page).ToHaveURLAsync(new Uri(App.BaseAddress, path).ToString());
        }
        await Expect(Page.Locator("#blazor-error-ui")).ToBeHiddenAsync();
        AssertNoBrowserErrors();
    }

    private Task<string> BackgroundColorAsync() =>
        Page.Locator("body").EvaluateAsync<string>("e => getComputedStyle(e).backgroundColor");

    [Collection(BrowserCollection.Name)]
    public sealed class Build(WebLlmAppFixture app, ITestOutputHelper output) : SystemPageTests(app, output);

    [Collection(PublishedBrowserCollection.Name)]
    public sealed class Published(PublishedAppFixture app, ITestOutputHelper output) : SystemPageTests(app, output);
}
