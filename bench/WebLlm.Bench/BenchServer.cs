using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using WebLlm.Contracts;

namespace WebLlm.Bench;

/// <summary>
/// The built WebLlm.Server in a child process on a free loopback port, with its built-in dataset Ready, and a headless
/// Chromium (started on demand) pointed at it. Disposing closes the browser and kills the server.
/// </summary>
internal sealed partial class BenchServer : IAsyncDisposable
{
    private IPlaywright? playwright;
    private IBrowser? chromium;

    private BenchServer(Process process, Uri baseUri)
    {
        Process = process;
        BaseUri = baseUri;
        Http = new HttpClient { BaseAddress = baseUri };
    }

    public Process Process { get; }
    public Uri BaseUri { get; }
    public HttpClient Http { get; }

    /// <summary>
    /// Starts the server (the build's, next to this program, or the one in <paramref name="serverFolder"/>, e.g. a publish
    /// folder); with <paramref name="apiKey"/> it requires that key, and <see cref="Http"/> sends it.
    /// </summary>
    public static async Task<BenchServer> StartAsync(string dataDir, int documents, string threads, string? apiKey = null, string? serverFolder = null, params string[] settings)
    {
        string folder = serverFolder ?? AppContext.BaseDirectory;
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var a in new[] { Path.Combine(folder, "WebLlm.Server.dll"), "--urls", "http://127.0.0.1:0",
                     $"--WebLlm:DataDirectory={dataDir}", $"--WebLlm:BuiltinMaxDocuments={documents}", $"--WebLlm:Threads={threads}", "--WebLlm:PeakFlops=1e11" })
            start.ArgumentList.Add(a);
        foreach (var setting in settings) start.ArgumentList.Add(setting);
        if (apiKey is not null) start.ArgumentList.Add($"--WebLlm:ApiKey={apiKey}");
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        var process = Process.Start(start)!;
        var listening = new TaskCompletionSource<Uri>();
        process.OutputDataReceived += (_, e) => { if (e.Data is { } l && Listening().Match(l) is { Success: true } m) listening.TrySetResult(new Uri(m.Groups["url"].Value)); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        BenchServer? server = null;
        try
        {
            server = new BenchServer(process, await listening.Task.WaitAsync(TimeSpan.FromMinutes(1)));
            if (apiKey is not null) server.Http.DefaultRequestHeaders.Authorization = new("Bearer", apiKey);
            while ((await server.Http.GetFromJsonAsync<List<DatasetDto>>(ApiRoutes.Datasets))!.FirstOrDefault() is not { Status: DatasetStatus.Ready })
                await Task.Delay(200);
            return server;
        }
        catch
        {
            if (server is not null) await server.DisposeAsync();
            else
            {
                process.Kill(entireProcessTree: true);
                process.Dispose();
            }
            throw;
        }
    }

    /// <summary>A new page in the one headless Chromium (launched on the first call).</summary>
    public async Task<IPage> NewPageAsync() => await (await BrowserAsync()).NewPageAsync();

    /// <summary>A new browser context (its own empty cache and storage) in the one headless Chromium.</summary>
    public async Task<IBrowserContext> NewContextAsync() => await (await BrowserAsync()).NewContextAsync();

    private async Task<IBrowser> BrowserAsync()
    {
        playwright ??= await Playwright.CreateAsync();
        return chromium ??= await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium", Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (chromium is not null) await chromium.DisposeAsync();
        playwright?.Dispose();
        Http.Dispose();
        Process.Kill(entireProcessTree: true);
        await Process.WaitForExitAsync();
        Process.Dispose();
    }

    [GeneratedRegex(@"Now listening on: (?<url>http://\S+)")]
    private static partial Regex Listening();
}
