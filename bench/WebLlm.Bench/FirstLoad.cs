using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using WebLlm.Contracts;
using WebLlm.Training.Benchmarks;

namespace WebLlm.Bench;

/// <summary>One way of serving the dashboard, loaded <see cref="Loads"/> times into an empty browser cache while a run trains.</summary>
public sealed record FirstLoadResult(
    string Variant, int Loads, double MedianSeconds, double MinSeconds, double MaxSeconds,
    double DownloadedMedianSeconds, double ReloadMedianSeconds,
    long TransferredBytes, long DecodedBytes, IReadOnlyDictionary<string, long> TransferredByKind, long ReloadTransferredBytes,
    int NeverUsable);

/// <summary>
/// The dashboard's first load: a fresh browser context (nothing cached) opens <c>/</c> while a <c>tiny</c> run trains on
/// the same two cores, timed from the navigation's start until the app is usable (the live connection is up and the run
/// list is drawn), by the page's own clock. For each load: when the last file arrived (the rest is starting the .NET
/// runtime and the app), the bytes that crossed the wire by kind, and a reload in the same context (the browser's cache
/// warm). Variants: the server as a build leaves it, the same server published (<c>dotnet publish -c Release</c>:
/// trimmed, Brotli), the published one over an emulated 20 Mbit/s link with 20 ms latency, and the published one with
/// nothing training (what the cores' contention costs).
/// </summary>
internal static class FirstLoad
{
    // Polled every 20 ms; the page notes the moment it first holds, so the figure leaves out the poll's round trip.
    private const string UsableScript = """
        () => {
          if (document.querySelector('[data-testid=connection-status][data-state=Connected]') === null
              || document.querySelector('[data-testid=new-run]') === null) return false;
          window.webllmUsableAt ??= performance.now();
          return true;
        }
        """;

    // Where the time and the bytes went, by the page's Resource Timing entries (same origin, so sizes are visible).
    private const string TimingScript = """
        () => {
          const resources = performance.getEntriesByType('resource');
          const kind = name => { const path = new URL(name).pathname; const m = path.match(/\.(wasm|js|css|json|png|html)$/); return m ? m[1] : 'api and other'; };
          const byKind = {};
          for (const r of resources) byKind[kind(r.name)] = (byKind[kind(r.name)] ?? 0) + r.transferSize;
          const files = resources.filter(r => kind(r.name) !== 'api and other');
          return {
            usableMs: window.webllmUsableAt,
            downloadedMs: Math.max(0, ...files.map(r => r.responseEnd)),
            transferred: resources.reduce((s, r) => s + r.transferSize, 0) + performance.getEntriesByType('navigation')[0].transferSize,
            decoded: resources.reduce((s, r) => s + r.decodedBodySize, 0),
            byKind: JSON.stringify(byKind),
          };
        }
        """;

    public static async Task<List<FirstLoadResult>> RunAsync(int loads, Action<string> log)
    {
        string published = Publish(log);
        var results = new List<FirstLoadResult>();
        foreach (var (variant, folder, slow, train) in new[]
                 {
                     ("build (dotnet run)", AppContext.BaseDirectory, false, true),
                     ("published", published, false, true),
                     ("published, 20 Mbit/s + 20 ms", published, true, true),
                     ("published, nothing training", published, false, false),
                 })
        {
            string data = Directory.CreateTempSubdirectory("webllm-first-load-").FullName;
            try
            {
                await using var server = await BenchServer.StartAsync(data, documents: 2000, threads: "2", serverFolder: folder);
                int? runId = train ? await StartTrainingAsync(server.Http) : null;
                var loadsOf = new List<Timing>();
                var reloads = new List<Timing>();
                int neverUsable = 0;
                for (int i = 0; i < loads; i++)
                {
                    if (await LoadAsync(server, slow, log) is not var (first, again))
                    {
                        neverUsable++;
                        continue;
                    }
                    loadsOf.Add(first);
                    reloads.Add(again);
                    log($"{variant}: usable after {first.UsableMs / 1000:F2} s (files in by {first.DownloadedMs / 1000:F2} s, {first.Transferred / 1e6:F2} MB), reload {again.UsableMs / 1000:F2} s ({again.Transferred / 1e3:F0} kB)");
                }
                if (runId is int id) await server.Http.PostAsync(ApiRoutes.RunAction(id, "stop"), null);
                if (loadsOf.Count == 0) throw new InvalidOperationException($"{variant}: no load of the dashboard became usable");
                var seconds = loadsOf.Select(t => t.UsableMs / 1000).ToList();
                var middle = loadsOf.OrderBy(t => t.UsableMs).ElementAt(loadsOf.Count / 2);
                results.Add(new FirstLoadResult(variant, loads, Stats.Median(seconds), seconds.Min(), seconds.Max(),
                    Stats.Median(loadsOf.Select(t => t.DownloadedMs / 1000).ToList()), Stats.Median(reloads.Select(t => t.UsableMs / 1000).ToList()),
                    middle.Transferred, middle.Decoded, middle.ByKind, (long)Stats.Median(reloads.Select(t => (double)t.Transferred).ToList()), neverUsable));
            }
            finally
            {
                Directory.Delete(data, recursive: true);
            }
        }
        return results;
    }

    private sealed record Timing(double UsableMs, double DownloadedMs, long Transferred, long Decoded, Dictionary<string, long> ByKind);

    /// <summary>A load and a reload; null (and what the browser reported, logged) if the app was not usable within 2 minutes.</summary>
    private static async Task<(Timing First, Timing Reload)?> LoadAsync(BenchServer server, bool slow, Action<string> log)
    {
        var context = await server.NewContextAsync();
        try
        {
            var page = await context.NewPageAsync();
            var events = new List<string>();
            page.Console += (_, m) => { lock (events) events.Add($"console {m.Type}: {m.Text}"); };
            page.PageError += (_, e) => { lock (events) events.Add($"page error: {e}"); };
            page.Response += (_, r) => { if (r.Status >= 400) lock (events) events.Add($"response {r.Status}: {r.Url}"); };
            // Resource Timing lists a request only once it has finished: a request that never does shows only here.
            var pending = new HashSet<string>();
            page.Request += (_, r) => { lock (events) pending.Add(r.Url); };
            page.RequestFinished += (_, r) => { lock (events) pending.Remove(r.Url); };
            page.RequestFailed += (_, r) =>
            {
                lock (events)
                {
                    pending.Remove(r.Url);
                    events.Add($"request failed: {r.Url} {r.Failure}");
                }
            };
            page.Load += (_, _) => { lock (events) events.Add("load event"); };
            if (slow)
            {
                var cdp = await context.NewCDPSessionAsync(page);
                await cdp.SendAsync("Network.enable");
                await cdp.SendAsync("Network.emulateNetworkConditions", new Dictionary<string, object>
                {
                    ["offline"] = false, ["latency"] = 20, ["downloadThroughput"] = 20e6 / 8, ["uploadThroughput"] = 5e6 / 8,
                });
            }
            await page.GotoAsync(server.BaseUri.ToString(), new() { WaitUntil = WaitUntilState.Commit });
            try
            {
                var first = await MeasureAsync(page, events);
                await page.ReloadAsync(new() { WaitUntil = WaitUntilState.Commit });
                var reload = await MeasureAsync(page, events);
                return (first, reload);
            }
            catch (TimeoutException e)
            {
                lock (events) log($"NOT USABLE: {e.Message}\nRequests never finished:\n{string.Join('\n', pending)}");
                return null;
            }
        }
        finally
        {
            await context.DisposeAsync();
        }
    }

    private static async Task<Timing> MeasureAsync(IPage page, List<string> events)
    {
        try
        {
            await page.WaitForFunctionAsync(UsableScript, null, new() { Timeout = 120_000, PollingInterval = 20 });
        }
        catch (TimeoutException)
        {
            string timeline = await page.EvaluateAsync<string>("() => performance.getEntriesByType('resource').map(r => `${r.startTime.toFixed(0)}-${r.responseEnd.toFixed(0)} ${r.transferSize} ${new URL(r.name).pathname}`).join('\\n')");
            lock (events)
            {
                throw new TimeoutException($"the dashboard was not usable within 2 minutes. Browser events:\n{string.Join('\n', events)}\nRequests:\n{timeline}");
            }
        }
        var t = await page.EvaluateAsync<JsonElement>(TimingScript);
        var byKind = JsonSerializer.Deserialize<Dictionary<string, long>>(t.GetProperty("byKind").GetString()!)!;
        return new Timing(t.GetProperty("usableMs").GetDouble(), t.GetProperty("downloadedMs").GetDouble(),
            (long)t.GetProperty("transferred").GetDouble(), (long)t.GetProperty("decoded").GetDouble(), byKind);
    }

    /// <summary>A tiny run on the built-in corpus, long enough to train through every load; returns once it trains.</summary>
    private static async Task<int> StartTrainingAsync(HttpClient http)
    {
        var created = await http.PostAsJsonAsync(ApiRoutes.Runs, new CreateRunRequest { Preset = "tiny", MaxSteps = 1_000_000, Name = "first-load", SampleEvery = 0 });
        created.EnsureSuccessStatusCode();
        var run = (await created.Content.ReadFromJsonAsync<RunDto>())!;
        while ((await http.GetFromJsonAsync<RunDto>(ApiRoutes.Run(run.Id)))!.CurrentStep < 20)
            await Task.Delay(250);
        return run.Id;
    }

    /// <summary><c>dotnet publish src/WebLlm.Server -c Release</c> of this checkout, into this program's folder.</summary>
    private static string Publish(Action<string> log)
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "WebLlm.sln"))) root = root.Parent;
        if (root is null) throw new InvalidOperationException($"No WebLlm.sln above {AppContext.BaseDirectory}.");
        string output = Path.Combine(AppContext.BaseDirectory, "published-server");
        if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        log($"dotnet publish src/WebLlm.Server -c Release -o {output}");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet") { WorkingDirectory = root.FullName };
        foreach (var a in new[] { "publish", "src/WebLlm.Server", "-c", "Release", "-o", output, "--disable-build-servers", "-nologo", "-v", "q",
                     "-p:CreateHardLinksForPublishFilesIfPossible=true" })
            start.ArgumentList.Add(a);
        using var publish = Process.Start(start)!;
        publish.WaitForExit();
        if (publish.ExitCode != 0) throw new InvalidOperationException($"dotnet publish failed with exit code {publish.ExitCode}");
        return output;
    }
}
