using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace WebLlm.Server.Tests;

/// <summary>
/// The server in memory, with its own data directory so tests never touch ./data. A small built-in corpus
/// and a fixed peak FLOP/s keep a fresh server ready in well under a second.
/// </summary>
public class WebLlmFactory : WebApplicationFactory<Program>
{
    private readonly bool ownsDirectory;
    private readonly Dictionary<string, string> settings;

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
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (ownsDirectory) DeleteDirectory(DataDirectory);
    }

    public static void DeleteDirectory(string path)
    {
        // SQLite's pooled connections may hold the file for a moment after the host stops.
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
    }
}
