using System.Diagnostics;

namespace WebLlm.E2E.Tests;

/// <summary>
/// The server as a deployer runs it: <c>dotnet publish src/WebLlm.Server -c Release</c> (once, into this assembly's
/// folder), then <c>dotnet WebLlm.Server.dll</c> from the publish folder. A publish rewrites the dashboard's page and
/// assets (fingerprinted names, import map, trimmed and compressed WebAssembly) in ways a build does not; a server that
/// only ever ran from the build's layout once served a blank dashboard when published.
/// </summary>
public sealed class PublishedAppFixture : WebLlmAppFixture
{
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromMinutes(10);

    public override string Layout => "publish";

    /// <summary>The publish folder; the static asset tests read the files in it.</summary>
    public string PublishFolder { get; } = Path.Combine(AppContext.BaseDirectory, "published-server");

    protected override async Task<string> ServerFolderAsync()
    {
        if (Directory.Exists(PublishFolder))
        {
            Directory.Delete(PublishFolder, recursive: true);
        }
        var start = new ProcessStartInfo(ServerProcess.DotnetHost)
        {
            WorkingDirectory = RepositoryRoot(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // No build servers: a compiler or MSBuild node left running would hold this test run's output open.
        foreach (var arg in new[] { "publish", "src/WebLlm.Server", "-c", "Release", "-o", PublishFolder, "--disable-build-servers", "-nologo",
                     "-p:CreateHardLinksForPublishFilesIfPossible=true" })
        {
            start.ArgumentList.Add(arg);
        }
        // The test host runs inside `dotnet test`, whose MSBuild settings would steer this separate build.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        using var publish = Process.Start(start)!;
        var stdout = publish.StandardOutput.ReadToEndAsync();
        var stderr = publish.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(PublishTimeout);
        try
        {
            await publish.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            publish.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet publish did not finish within {PublishTimeout}:\n{await stdout}\n{await stderr}");
        }
        if (publish.ExitCode != 0 || !File.Exists(Path.Combine(PublishFolder, "WebLlm.Server.dll")))
        {
            throw new InvalidOperationException($"dotnet publish failed (exit code {publish.ExitCode}):\n{await stdout}\n{await stderr}");
        }
        return PublishFolder;
    }
}
