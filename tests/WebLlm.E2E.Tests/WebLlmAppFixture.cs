using Microsoft.Playwright;

// Two servers training at once on two cores would slow each other's tests into their timeouts: the build's collection
// runs, then the published one.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace WebLlm.E2E.Tests;

/// <summary>
/// One real server (WebLlm.Server.dll on Kestrel, in its own process, exactly as <c>dotnet run</c> starts it: the
/// build's layout, whose static web assets manifest points at the Client's build output) and one headless Chromium,
/// shared by every test in <see cref="BrowserCollection"/>. Each test opens its own browser context with
/// <see cref="NewPageAsync"/>, so tests stay isolated but cheap. <see cref="PublishedAppFixture"/> is the same for
/// the output of <c>dotnet publish</c>.
/// </summary>
public class WebLlmAppFixture : IAsyncLifetime
{
    /// <summary>Debian's chromium package; Playwright cannot download its own browsers on these machines.</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    private ServerProcess? _server;
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public string DataDirectory { get; } = Directory.CreateTempSubdirectory("webllm-e2e-").FullName;

    /// <summary>Which server this is, for test output: "build" or "publish".</summary>
    public virtual string Layout => "build";

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Settings that keep a test server quick: a small built-in corpus, a fixed peak for MFU, frequent system samples.</summary>
    public static readonly string[] QuickSettings = ["--WebLlm:BuiltinMaxDocuments=3000", "--WebLlm:PeakFlops=180e9", "--WebLlm:SystemSampleSeconds=0.5"];

    /// <summary>What the server wrote to stdout and stderr so far; failing tests print it.</summary>
    public string ServerOutput => _server?.Output ?? "";

    /// <summary>
    /// Fails with the server's output and exit code when the shared server is gone, so a test that finds it dead says so
    /// instead of reporting a refused connection.
    /// </summary>
    public void AssertServerRunning()
    {
        if (_server is { HasExited: true })
        {
            throw new InvalidOperationException($"The {Layout} server is no longer running. Its output:\n{_server.Output}");
        }
    }

    public async Task InitializeAsync()
    {
        // Fail, not skip: a missing browser must not turn the UI tests green.
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException(
                $"{ChromiumPath} not found. The browser tests drive Debian's Chromium: run `apt-get install -y chromium` (.ci/run does).");
        }

        _server = await ServerProcess.StartAsync(await ServerFolderAsync(), [$"--WebLlm:DataDirectory={DataDirectory}", .. QuickSettings]);
        BaseAddress = _server.BaseAddress;

        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // No sandbox: CI runs as root in a container. The rest keeps Chromium off the network and the GPU.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    /// <summary>
    /// A fresh context (cookies, storage) and page on this server, or on <paramref name="baseAddress"/> (another server,
    /// or a proxy in front of one); dispose the context when done.
    /// </summary>
    public async Task<(IBrowserContext Context, IPage Page)> NewPageAsync(Uri? baseAddress = null)
    {
        // A laptop screen.
        var context = await _browser!.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = (baseAddress ?? BaseAddress).ToString(),
            ViewportSize = new ViewportSize { Width = 1440, Height = 900 },
        });
        return (context, await context.NewPageAsync());
    }

    /// <summary>The folder that holds WebLlm.Server.dll and everything it serves.</summary>
    protected virtual Task<string> ServerFolderAsync() =>
        // The project reference copies WebLlm.Server.dll, its runtimeconfig, appsettings.json and the static web
        // assets manifests (which point at the Client's build output) next to this assembly.
        Task.FromResult(AppContext.BaseDirectory);

    /// <summary>
    /// With WEBLLM_SCREENSHOTS=1, saves the page as docs/screenshots/<paramref name="name"/>.png in the repository
    /// (for the README); otherwise does nothing, so ordinary test runs leave the tree clean.
    /// </summary>
    public async Task ScreenshotAsync(IPage page, string name)
    {
        // The published server runs the same pages: one set of screenshots, from the build's server.
        if (Environment.GetEnvironmentVariable("WEBLLM_SCREENSHOTS") != "1" || Layout != "build")
        {
            return;
        }
        var folder = Directory.CreateDirectory(Path.Combine(RepositoryRoot(), "docs", "screenshots"));
        await page.WaitForTimeoutAsync(400); // let transitions and charts settle
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(folder.FullName, name + ".png"), FullPage = true });
    }

    /// <summary>The checkout this test assembly was built from (the folder holding WebLlm.sln).</summary>
    public static string RepositoryRoot()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "WebLlm.sln")))
        {
            root = root.Parent;
        }
        return root?.FullName ?? throw new InvalidOperationException($"No WebLlm.sln above {AppContext.BaseDirectory}.");
    }

    public virtual async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }
        _playwright?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        Directory.Delete(DataDirectory, recursive: true);
    }
}

/// <summary>The browser tests against the server as a build leaves it (<c>dotnet run</c>, <c>dotnet test</c>).</summary>
[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<WebLlmAppFixture>
{
    public const string Name = "Browser";
}

/// <summary>The same browser tests against the output of <c>dotnet publish</c>, which deployers run.</summary>
[CollectionDefinition(Name)]
public sealed class PublishedBrowserCollection : ICollectionFixture<PublishedAppFixture>
{
    public const string Name = "Browser (published)";
}
