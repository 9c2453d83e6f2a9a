using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace WebLlm.E2E.Tests;

[Collection(BrowserCollection.Name)]
public sealed class SystemPageTests(WebLlmAppFixture app, ITestOutputHelper output) : IAsyncLifetime
{
    private readonly List<string> _pageErrors = [];
    private IBrowserContext _context = null!;
    private IPage _page = null!;

    public async Task InitializeAsync()
    {
        (_context, _page) = await app.NewPageAsync();
        _page.PageError += (_, error) => _pageErrors.Add(error);
        _page.Console += (_, message) => output.WriteLine($"[browser {message.Type}] {message.Text}");
    }

    public async Task DisposeAsync()
    {
        await _context.DisposeAsync();
        output.WriteLine(app.ServerOutput);
    }

    [Fact]
    public async Task System_page_shows_server_is_up_on_cpu()
    {
        await _page.GotoAsync("/system");

        // The first load downloads and starts the .NET WebAssembly runtime; give it time on 2 cores.
        await Expect(_page.GetByTestId("server-status")).ToContainTextAsync("Server is up", new() { Timeout = 60_000 });
        await Expect(_page.GetByTestId("device")).ToHaveTextAsync("cpu");
        await Expect(_page.GetByText(app.DataDirectory)).ToBeVisibleAsync();
        Assert.Empty(_pageErrors);
    }

    [Fact]
    public async Task Dark_mode_toggle_switches_theme_without_crashing()
    {
        await _page.GotoAsync("/system");
        await Expect(_page.GetByTestId("server-status")).ToContainTextAsync("Server is up", new() { Timeout = 60_000 });
        var toggle = _page.GetByRole(AriaRole.Button, new() { Name = "Toggle dark mode" });
        var lightBackground = await BackgroundColorAsync();

        await toggle.ClickAsync();
        await Expect(_page.Locator("body")).Not.ToHaveCSSAsync("background-color", lightBackground);
        await toggle.ClickAsync();
        await Expect(_page.Locator("body")).ToHaveCSSAsync("background-color", lightBackground);

        await Expect(_page.Locator("#blazor-error-ui")).ToBeHiddenAsync();
        await Expect(_page.GetByTestId("server-status")).ToContainTextAsync("Server is up");
        Assert.Empty(_pageErrors);
    }

    [Fact]
    public async Task Unknown_api_route_is_problem_json_in_the_browser_too()
    {
        var response = await _page.GotoAsync("/api/no-such-thing");

        Assert.NotNull(response);
        Assert.Equal(404, response.Status);
        Assert.StartsWith("application/problem+json", response.Headers["content-type"]);
    }

    private Task<string> BackgroundColorAsync() =>
        _page.Locator("body").EvaluateAsync<string>("e => getComputedStyle(e).backgroundColor");
}
