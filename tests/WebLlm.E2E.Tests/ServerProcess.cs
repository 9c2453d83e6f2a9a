using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace WebLlm.E2E.Tests;

/// <summary>
/// WebLlm.Server.dll from a folder (a build's or a publish's) in a process of its own, on a port Kestrel picks, started
/// the way a user starts it: <c>dotnet WebLlm.Server.dll</c> with settings as arguments or environment variables.
/// </summary>
public sealed partial class ServerProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(60);

    private readonly StringBuilder _output = new();
    private readonly Process _process;
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServerProcess(Process process) => _process = process;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Whether the server process has ended (crashed, killed, or stopped by itself).</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>What the server wrote to stdout and stderr so far; failing tests print it.</summary>
    public string Output
    {
        get { lock (_output) { return _output.ToString(); } }
    }

    /// <summary>The <c>dotnet</c> that runs these tests (the SDK sets DOTNET_HOST_PATH for the test host).</summary>
    public static string DotnetHost => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";

    /// <summary>
    /// Starts the server in <paramref name="folder"/> and returns once <c>/health</c> answers. Listens on
    /// <c>http://127.0.0.1:0</c> unless <paramref name="environment"/> or <paramref name="arguments"/> say otherwise; runs
    /// in <paramref name="folder"/> unless given another <paramref name="workingDirectory"/>.
    /// </summary>
    public static async Task<ServerProcess> StartAsync(string folder, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null,
        string? workingDirectory = null)
    {
        var server = Launch(folder, arguments, environment, workingDirectory);
        try
        {
            server.BaseAddress = await server._listening.Task.WaitAsync(StartupTimeout);
            await server.WaitForHealthAsync();
            return server;
        }
        catch (TimeoutException)
        {
            await server.DisposeAsync();
            throw new TimeoutException($"WebLlm.Server did not come up within {StartupTimeout}. Output:\n{server.Output}");
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the server and waits for it to exit by itself (a refusal to start); returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(string folder, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        await using var server = Launch(folder, arguments, environment, workingDirectory: null);
        using var timeout = new CancellationTokenSource(StartupTimeout);
        await server._process.WaitForExitAsync(timeout.Token);
        server._process.WaitForExit(); // the redirected output's last lines
        return (server._process.ExitCode, server.Output);
    }

    private static ServerProcess Launch(string folder, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment, string? workingDirectory)
    {
        var start = new ProcessStartInfo(DotnetHost)
        {
            WorkingDirectory = workingDirectory ?? folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(folder, "WebLlm.Server.dll"));
        bool ownUrls = environment?.ContainsKey("Urls") == true || arguments.Contains("--urls");
        if (!ownUrls)
        {
            // Port 0: Kestrel picks a free port and logs it, so parallel runs never collide.
            start.ArgumentList.Add("--urls");
            start.ArgumentList.Add("http://127.0.0.1:0");
        }
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Logging__Console__FormatterName"] = "simple";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var server = new ServerProcess(new Process { StartInfo = start, EnableRaisingEvents = true });
        server._process.OutputDataReceived += (_, e) => server.OnLine(e.Data);
        server._process.ErrorDataReceived += (_, e) => server.OnLine(e.Data);
        server._process.Exited += (_, _) =>
        {
            // A server killed by a signal writes nothing itself; .NET reports signal N as exit code 128 + N.
            server.OnLine($"[WebLlm.Server (pid {server._process.Id}) exited at {DateTime.UtcNow:HH:mm:ss.fff} UTC with code {server._process.ExitCode}]");
            server._listening.TrySetException(new InvalidOperationException($"WebLlm.Server exited before listening. Output:\n{server.Output}"));
        };
        server._process.Start();
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        return server;
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
        if (ListeningLine().Match(line) is { Success: true } match)
        {
            // 0.0.0.0 is where it listens, not an address to connect to.
            _listening.TrySetResult(new Uri(match.Groups["url"].Value.Replace("://0.0.0.0:", "://127.0.0.1:")));
        }
    }

    private async Task WaitForHealthAsync()
    {
        using var http = new HttpClient { BaseAddress = BaseAddress };
        var deadline = DateTime.UtcNow + StartupTimeout;
        while (true)
        {
            try
            {
                if ((await http.GetAsync("/health")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"{BaseAddress}health did not answer 200 within {StartupTimeout}. Output:\n{Output}");
            }
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    [GeneratedRegex(@"Now listening on: (?<url>http://\S+)")]
    private static partial Regex ListeningLine();
}
