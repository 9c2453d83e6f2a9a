using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using WebLlm.Server;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace WebLlm.E2E.Tests;

/// <summary>
/// The README's deployment recipes against the published server: the Dockerfile's settings, the systemd unit, and the
/// nginx configuration with a real nginx in front of the server and a real browser behind it. The container image itself
/// is not built: these machines have no container engine.
/// </summary>
[Collection(PublishedBrowserCollection.Name)]
public sealed partial class DeploymentTests(PublishedAppFixture app, ITestOutputHelper output) : IAsyncLifetime
{
    private const string Nginx = "/usr/sbin/nginx";
    private const string SystemdAnalyze = "/usr/bin/systemd-analyze";
    private const string Key = "deployment-test-key-0123456789abcdef";

    private readonly string _scratch = Directory.CreateTempSubdirectory("webllm-deploy-").FullName;
    private Process? _nginx;

    private static string Repository => WebLlmAppFixture.RepositoryRoot();

    [Fact]
    public async Task Dockerfile_settings_run_the_published_server_and_it_refuses_them_without_a_key()
    {
        var lines = DockerfileInstructions();
        string framework = FrameworkVersion(); // e.g. 10.0, from the published runtimeconfig
        Assert.Equal([$"FROM mcr.microsoft.com/dotnet/sdk:{framework} AS build", $"FROM mcr.microsoft.com/dotnet/aspnet:{framework}"],
            lines.Where(l => l.StartsWith("FROM ", StringComparison.Ordinal)));
        Assert.Contains("RUN dotnet publish src/WebLlm.Server -c Release -o /app", lines);
        Assert.Contains("COPY --from=build /app .", lines);
        Assert.Contains("dotnet publish src/WebLlm.Server -c Release", File.ReadAllText(Path.Combine(Repository, "README.md")));
        var entrypoint = JsonSerializer.Deserialize<string[]>(Instruction(lines, "ENTRYPOINT"))!;
        Assert.Equal("dotnet", entrypoint[0]);
        Assert.True(File.Exists(Path.Combine(app.PublishFolder, entrypoint[1])), $"{entrypoint[1]} is not in the publish output");

        var environment = Instruction(lines, "ENV").Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2)).ToDictionary(pair => pair[0], pair => pair[1]);
        Assert.Equal(Instruction(lines, "VOLUME"), environment["WebLlm__DataDirectory"]);
        var urls = new Uri(environment["Urls"]);
        Assert.Equal("0.0.0.0", urls.Host);
        Assert.Equal(Instruction(lines, "EXPOSE"), urls.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.DoesNotContain(environment.Keys, k => k.Contains("ApiKey", StringComparison.OrdinalIgnoreCase)); // given at `docker run`
        Assert.DoesNotContain("ASPNETCORE_URLS", environment.Keys); // appsettings.json's Urls would win over it

        // The image's settings, with a free port and a scratch folder for /data.
        environment["Urls"] = $"http://0.0.0.0:{FreePort()}";
        environment["WebLlm__DataDirectory"] = Path.Combine(_scratch, "data");
        var refused = await ServerProcess.RunToExitAsync(app.PublishFolder, WebLlmAppFixture.QuickSettings, environment);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("Refusing to listen on http://0.0.0.0", refused.Output);

        environment["WebLlm__ApiKey"] = Key;
        await using var server = await ServerProcess.StartAsync(app.PublishFolder, WebLlmAppFixture.QuickSettings, environment);
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/runs")).StatusCode);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/runs")).StatusCode);
        Assert.Contains("_framework/blazor.webassembly.", await http.GetStringAsync("/"));
        Assert.True(File.Exists(Path.Combine(_scratch, "data", "webllm.db")), "the database is not in WebLlm__DataDirectory");

        // The runtime image has no SDK, so no reference pack: the publish ships the built-in corpus's XML files.
        // (This test process is no publish: it finds the SDK's own pack, the files `dotnet run` trains on.)
        string shipped = Path.Combine(app.PublishFolder, Training.Data.BuiltinCorpus.ShippedFolder);
        Assert.True(Directory.Exists(shipped), $"{shipped} is missing");
        Assert.Equal(Directory.GetFiles(Training.Data.BuiltinCorpus.FindXmlDirectory(), "*.xml").Select(Path.GetFileName).Order(),
            Directory.GetFiles(shipped, "*.xml").Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task Published_server_started_from_another_folder_serves_its_dashboard_and_reads_its_settings()
    {
        // The README's `dotnet out/WebLlm.Server.dll`, run from the checkout: the working directory is not the publish folder.
        string elsewhere = Directory.CreateDirectory(Path.Combine(_scratch, "elsewhere")).FullName;
        await using var server = await ServerProcess.StartAsync(app.PublishFolder,
            [$"--WebLlm:DataDirectory={Path.Combine(_scratch, "data")}", .. WebLlmAppFixture.QuickSettings], workingDirectory: elsewhere);
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        var page = await http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Matches(@"_framework/blazor\.webassembly\.[a-z0-9]+\.js", await page.Content.ReadAsStringAsync());
        // appsettings.json next to the dll was read: its AllowedHosts turns away a foreign Host header.
        using var foreign = new HttpRequestMessage(HttpMethod.Get, "/health");
        foreign.Headers.Host = "attacker.example";
        Assert.Equal(HttpStatusCode.BadRequest, (await http.SendAsync(foreign)).StatusCode);
        Assert.True(File.Exists(Path.Combine(_scratch, "data", "webllm.db")));
        Assert.Empty(Directory.GetFileSystemEntries(elsewhere));
    }

    [Fact]
    public async Task Systemd_unit_verifies_and_waits_longer_than_the_server_takes_to_stop()
    {
        string unit = Path.Combine(Repository, "deploy", "webllm.service");
        if (!File.Exists(SystemdAnalyze))
        {
            throw new InvalidOperationException($"{SystemdAnalyze} not found: install Debian's systemd package (.ci/run does).");
        }
        var (exitCode, text) = await RunAsync(SystemdAnalyze, "verify", unit);
        output.WriteLine(text);
        Assert.Equal(0, exitCode);
        Assert.DoesNotMatch("(?i)unknown|ignoring|invalid|failed", text); // verify only warns about misspelt keys

        var settings = File.ReadAllLines(unit).Where(l => l.Contains('=') && !l.StartsWith('#')).Select(l => l.Split('=', 2)).ToLookup(p => p[0], p => p[1]);
        Assert.True(double.Parse(settings["TimeoutStopSec"].Single(), System.Globalization.CultureInfo.InvariantCulture) > new WebLlmOptions().ShutdownTimeoutSeconds,
            "systemd would kill the server before its last checkpoint is written");
        Assert.Equal("SIGTERM", settings["KillSignal"].Single());
        Assert.Contains(settings["Environment"], e => e == "Urls=http://127.0.0.1:5080"); // loopback: the proxy is the way in
        string dll = settings["ExecStart"].Single().Split(' ')[1];
        Assert.True(File.Exists(Path.Combine(app.PublishFolder, Path.GetFileName(dll))), $"{dll} is not in the publish output");
    }

    [Fact]
    public async Task Dashboard_trains_live_through_the_documented_nginx_config()
    {
        if (!File.Exists(Nginx))
        {
            throw new InvalidOperationException($"{Nginx} not found: install Debian's nginx-light package (.ci/run does).");
        }
        await using var server = await ServerProcess.StartAsync(app.PublishFolder,
            [$"--WebLlm:DataDirectory={Path.Combine(_scratch, "data")}", $"--WebLlm:ApiKey={Key}", .. WebLlmAppFixture.QuickSettings]);
        int port = FreePort();
        var nginx = _nginx = StartNginx(port, server.BaseAddress);
        var proxy = new Uri($"http://127.0.0.1:{port}/");
        using var http = new HttpClient { BaseAddress = proxy };
        await WaitUntilAsync(async () => (await http.GetAsync("/health")).IsSuccessStatusCode, nginx);

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/runs")).StatusCode);

        var (context, page) = await app.NewPageAsync(proxy);
        await using var _ = context;
        var sockets = new List<string>();
        page.WebSocket += (_, socket) => { lock (sockets) sockets.Add(socket.Url); };
        await page.AddInitScriptAsync($"localStorage.setItem('webllm.apiKey', '{Key}')");
        await page.GotoAsync("/");
        await Expect(page.GetByTestId("connection-status")).ToHaveAttributeAsync("data-state", "Connected", new() { Timeout = 60_000 });
        lock (sockets)
        {
            // The hub went through nginx as a WebSocket, not a fallback to long polling.
            Assert.Contains(sockets, url => url.StartsWith($"ws://127.0.0.1:{port}/hubs/training", StringComparison.Ordinal));
        }

        await page.GetByTestId("start-defaults").ClickAsync();
        await page.WaitForURLAsync(RunUrl(), new() { Timeout = 30_000 });
        await Expect(page.GetByTestId("run-status")).ToHaveAttributeAsync("data-status", "Running", new() { Timeout = 90_000 });
        // Steps arrive live through the proxy: the loss chart fills.
        await Expect(page.GetByTestId("chart-loss")).ToHaveAttributeAsync("data-points", new Regex(@"^([2-9]\d|\d{3,})$"), new() { Timeout = 90_000 });

        int runId = int.Parse(RunUrl().Match(page.Url).Groups["id"].Value, System.Globalization.CultureInfo.InvariantCulture);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        Assert.True((await http.PostAsync(Contracts.ApiRoutes.RunAction(runId, "stop"), null)).IsSuccessStatusCode);
        await Expect(page.GetByTestId("run-status")).ToHaveAttributeAsync("data-status", "Stopped", new() { Timeout = 60_000 });
    }

    /// <summary>nginx with the repository's site configuration, moved to a free port and pointed at the test's server.</summary>
    private Process StartNginx(int port, Uri upstream)
    {
        string site = File.ReadAllText(Path.Combine(Repository, "deploy", "nginx-webllm.conf"));
        Assert.Contains("    listen 80;", site);
        Assert.Contains("proxy_pass http://127.0.0.1:5080;", site);
        site = site.Replace("    listen 80;", $"    listen 127.0.0.1:{port};")
            .Replace("proxy_pass http://127.0.0.1:5080;", $"proxy_pass {upstream.GetLeftPart(UriPartial.Authority)};");
        File.WriteAllText(Path.Combine(_scratch, "site.conf"), site);
        File.WriteAllText(Path.Combine(_scratch, "nginx.conf"), $$"""
            daemon off;
            master_process off;
            pid {{_scratch}}/nginx.pid;
            error_log {{_scratch}}/error.log info;
            events { worker_connections 256; }
            http {
                access_log {{_scratch}}/access.log;
                client_body_temp_path {{_scratch}}/body;
                proxy_temp_path {{_scratch}}/proxy;
                fastcgi_temp_path {{_scratch}}/fastcgi;
                uwsgi_temp_path {{_scratch}}/uwsgi;
                scgi_temp_path {{_scratch}}/scgi;
                include {{_scratch}}/site.conf;
            }
            """);
        var start = new ProcessStartInfo(Nginx) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "-p", _scratch, "-c", Path.Combine(_scratch, "nginx.conf") })
        {
            start.ArgumentList.Add(arg);
        }
        return Process.Start(start)!;
    }

    private async Task WaitUntilAsync(Func<Task<bool>> ready, Process nginx)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            Assert.False(nginx.HasExited, $"nginx exited: {await nginx.StandardError.ReadToEndAsync()}");
            try
            {
                if (await ready())
                {
                    return;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }
            Assert.True(DateTime.UtcNow < deadline, "nginx did not answer within 30 s: " + ErrorLog());
            await Task.Delay(100);
        }
    }

    private string ErrorLog() => File.Exists(Path.Combine(_scratch, "error.log")) ? File.ReadAllText(Path.Combine(_scratch, "error.log")) : "";

    /// <summary>The Dockerfile's instructions, one a line, continuation lines joined, comments dropped.</summary>
    private static List<string> DockerfileInstructions()
    {
        var joined = Regex.Replace(File.ReadAllText(Path.Combine(Repository, "Dockerfile")), @"\\\r?\n\s*", " ");
        return joined.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
    }

    private static string Instruction(List<string> lines, string name) =>
        lines.Single(l => l.StartsWith(name + " ", StringComparison.Ordinal))[(name.Length + 1)..].Trim();

    private string FrameworkVersion()
    {
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(app.PublishFolder, "WebLlm.Server.runtimeconfig.json")));
        string tfm = config.RootElement.GetProperty("runtimeOptions").GetProperty("tfm").GetString()!; // net10.0
        return tfm["net".Length..];
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    [GeneratedRegex(@"/runs/(?<id>\d+)$")]
    private static partial Regex RunUrl();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_nginx is not null)
        {
            if (!_nginx.HasExited)
            {
                _nginx.Kill(entireProcessTree: true);
                await _nginx.WaitForExitAsync();
            }
            _nginx.Dispose();
            output.WriteLine(ErrorLog());
        }
        Directory.Delete(_scratch, recursive: true);
    }
}
