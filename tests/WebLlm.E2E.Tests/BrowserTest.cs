using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace WebLlm.E2E.Tests;

/// <summary>
/// A test with its own browser context and page on the shared server. Collects uncaught page errors and
/// console errors, so every test can end with <see cref="AssertNoBrowserErrors"/>. Each test class is abstract and
/// runs twice, through two nested classes: <c>Build</c> against the server as a build leaves it and <c>Published</c>
/// against the output of <c>dotnet publish</c>.
/// </summary>
public abstract class BrowserTest(WebLlmAppFixture app, ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>The first load downloads and starts the .NET WebAssembly runtime; give it time on 2 cores.</summary>
    protected static readonly LocatorAssertionsToBeVisibleOptions Boot = new() { Timeout = 60_000 };

    private readonly List<string> _errors = [];
    private IBrowserContext _context = null!;

    protected WebLlmAppFixture App { get; } = app;
    protected IPage Page { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        App.AssertServerRunning();
        (_context, Page) = await App.NewPageAsync();
        Page.PageError += (_, error) => { lock (_errors) _errors.Add("page error: " + error); };
        Page.Console += (_, message) =>
        {
            output.WriteLine($"[browser {message.Type}] {message.Text}");
            if (message.Type == "error")
            {
                lock (_errors) _errors.Add(message.Text);
            }
        };
    }

    public async Task DisposeAsync()
    {
        await _context.DisposeAsync();
        output.WriteLine($"[server: {App.Layout}]");
        output.WriteLine(App.ServerOutput);
    }

    protected ILocator TestId(string id) => Page.GetByTestId(id);

    protected void Log(string line) => output.WriteLine(line);

    /// <summary>Opens a page of the app and waits until the live connection is up.</summary>
    protected async Task OpenAsync(string path)
    {
        await Page.GotoAsync(path);
        await Expect(TestId("connection-status")).ToHaveAttributeAsync("data-state", "Connected", new() { Timeout = 60_000 });
    }

    /// <summary>
    /// No uncaught errors and no console errors, except those a test provokes on purpose (Chromium logs every
    /// 4xx/5xx fetch as "Failed to load resource: … status of 400").
    /// </summary>
    protected void AssertNoBrowserErrors(params string[] expected)
    {
        lock (_errors)
        {
            Assert.DoesNotContain(_errors, e => !expected.Any(e.Contains));
        }
        Assert.False(Page.IsClosed);
    }
}
