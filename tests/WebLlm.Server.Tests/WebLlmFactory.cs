using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;

namespace WebLlm.Server.Tests;

/// <summary>
/// The server in memory, with its own data directory so tests never touch ./data. A small built-in corpus
/// and a fixed peak FLOP/s keep a fresh server ready in well under a second.
/// </summary>
public class WebLlmFactory : WebApplicationFactory<Program>
{
    private readonly bool ownsDirectory;
    private readonly Dictionary<string, string> settings;
    private int? socketSendBuffer;

    public WebLlmFactory() : this(null) { }

    /// <param name="dataDirectory">An existing data directory to start on (a restart); null makes a fresh one that is deleted on dispose.</param>
    internal WebLlmFactory(string? dataDirectory, Dictionary<string, string>? settings = null)
    {
        ownsDirectory = dataDirectory is null;
        DataDirectory = dataDirectory ?? Directory.CreateTempSubdirectory("webllm-server-tests-").FullName;
        this.settings = settings ?? [];
    }

    public string DataDirectory { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("WebLlm:DataDirectory", DataDirectory);
        builder.UseSetting("WebLlm:BuiltinMaxDocuments", "3000");
        builder.UseSetting("WebLlm:PeakFlops", "180e9");
        builder.UseSetting("WebLlm:SystemSampleSeconds", "0.5");
        foreach (var (key, value) in settings) builder.UseSetting(key, value);
        if (socketSendBuffer is int bytes)
        {
            // Accepted sockets inherit the listening socket's SO_SNDBUF; a fixed size also turns the kernel's autotuning off.
            builder.ConfigureServices(services => services.Configure<SocketTransportOptions>(o => o.CreateBoundListenSocket = endpoint =>
            {
                var socket = SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
                socket.SendBufferSize = bytes;
                return socket;
            }));
        }
    }

    /// <summary>Clients send the same-site request header, as the UI does (SecurityTests use bare clients).</summary>
    protected override void ConfigureClient(HttpClient client)
    {
        base.ConfigureClient(client);
        client.DefaultRequestHeaders.Add("X-WebLlm-Request", "1");
    }

    /// <summary>
    /// Starts the server on real Kestrel (a free loopback port) instead of the in-memory test server; its address. With
    /// <paramref name="socketSendBuffer"/>, every connection's kernel send buffer has that fixed size (Linux grows it to
    /// 4 MB otherwise), so a client that stops reading fills it within a few pushes.
    /// </summary>
    public Uri StartKestrel(int? socketSendBuffer = null)
    {
        this.socketSendBuffer = socketSendBuffer;
        UseKestrel(0);
        StartServer();
        var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (ownsDirectory) DeleteDirectory(DataDirectory);
    }

    /// <summary>A finished run of <see cref="Api.Tiny"/> in its own data directory (kept), with its step metrics, for restart tests.</summary>
    public static async Task<(string DataDir, int RunId, IReadOnlyList<WebLlm.Contracts.StepMetricDto> Steps)> CompletedRunAsync(string prefix, int maxSteps)
    {
        string dataDir = Directory.CreateTempSubdirectory(prefix).FullName;
        await using var factory = new WebLlmFactory(dataDir);
        var api = new Api(factory.CreateClient());
        int runId = (await api.LaunchAsync(Api.Tiny(maxSteps))).Id;
        await api.WaitForStatusAsync(runId, WebLlm.Contracts.RunStatus.Completed);
        return (dataDir, runId, await api.MetricsAsync(runId));
    }

    /// <summary>Simulates a crash's leftover: the run is marked Running in the database of a stopped server.</summary>
    public static async Task MarkRunningAsync(string dataDir, int runId)
    {
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dataDir, "webllm.db")}"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = $"UPDATE Runs SET Status = 'Running', EndedUtc = NULL WHERE Id = {runId}";
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    public static void DeleteDirectory(string path)
    {
        // SQLite's pooled connections may hold the file for a moment after the host stops.
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
    }
}
