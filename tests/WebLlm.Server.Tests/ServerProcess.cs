using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace WebLlm.Server.Tests;

/// <summary>
/// The real server (WebLlm.Server.dll on Kestrel) as a child process on a free loopback port, so tests can send it
/// SIGTERM or SIGKILL. The data directory outlives the process, so a second one restarts on the same state.
/// </summary>
public sealed partial class ServerProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(90);
    private readonly StringBuilder output = new();
    private readonly Process process;

    private ServerProcess(Process process) => this.process = process;

    public Uri BaseAddress { get; private set; } = null!;
    public int Pid => process.Id;
    public bool HasExited => process.HasExited;
    public int ExitCode => process.ExitCode;

    public string Output
    {
        get { lock (output) return output.ToString(); }
    }

    /// <summary>The command line the fault-injection script and the tests use (settings as --Key=value).</summary>
    public static ProcessStartInfo StartInfo(string dataDirectory, string urls, IEnumerable<string> settings)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "WebLlm.Server.dll"), "--urls", urls, $"--WebLlm:DataDirectory={dataDirectory}",
                     "--WebLlm:BuiltinMaxDocuments=3000", "--WebLlm:PeakFlops=180e9", "--WebLlm:Threads=1" }.Concat(settings))
            start.ArgumentList.Add(arg);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Logging__Console__FormatterName"] = "simple";
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        return start;
    }

    /// <summary>Starts the server and waits until it listens; throws with its output when it exits first.</summary>
    public static Task<ServerProcess> StartAsync(string dataDirectory, params string[] settings) =>
        StartAsync(dataDirectory, new Dictionary<string, string>(), settings);

    /// <summary>The same, with extra environment variables for the process.</summary>
    public static async Task<ServerProcess> StartAsync(string dataDirectory, IReadOnlyDictionary<string, string> environment, params string[] settings)
    {
        var start = StartInfo(dataDirectory, "http://127.0.0.1:0", settings);
        foreach (var (name, value) in environment) start.Environment[name] = value;
        var server = Launch(start, out var listening);
        try
        {
            server.BaseAddress = await listening.Task.WaitAsync(StartupTimeout);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts a process that is expected to exit on its own (e.g. refuse a configuration).</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(string dataDirectory, string urls, params string[] settings)
    {
        await using var server = Launch(StartInfo(dataDirectory, urls, settings), out _);
        using var timeout = new CancellationTokenSource(StartupTimeout);
        await server.process.WaitForExitAsync(timeout.Token);
        server.process.WaitForExit(); // drains the redirected output
        return (server.process.ExitCode, server.Output);
    }

    private static ServerProcess Launch(ProcessStartInfo start, out TaskCompletionSource<Uri> listening)
    {
        var server = new ServerProcess(new Process { StartInfo = start, EnableRaisingEvents = true });
        var ready = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        listening = ready;
        server.process.OutputDataReceived += (_, e) => server.OnLine(e.Data, ready);
        server.process.ErrorDataReceived += (_, e) => server.OnLine(e.Data, ready);
        server.process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException($"WebLlm.Server exited before listening:\n{server.Output}"));
        server.process.Start();
        server.process.BeginOutputReadLine();
        server.process.BeginErrorReadLine();
        return server;
    }

    private void OnLine(string? line, TaskCompletionSource<Uri> listening)
    {
        if (line is null) return;
        lock (output) output.AppendLine(line);
        if (ListeningLine().Match(line) is { Success: true } m) listening.TrySetResult(new Uri(m.Groups["url"].Value));
    }

    /// <summary>kill -SIGNAL pid (TERM for a graceful stop, KILL for a crash).</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, Pid.ToString()])!;
        await kill.WaitForExitAsync();
    }

    /// <summary>Waits for the process to exit; false when it is still running after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try { await process.WaitForExitAsync(cts.Token); return true; }
        catch (OperationCanceledException) { return false; }
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        process.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    [GeneratedRegex(@"Now listening on: (?<url>http://\S+)")]
    private static partial Regex ListeningLine();
}
