using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace WebLlm.Server.Tests;

/// <summary>The server in memory, with its own empty data directory so tests never touch ./data.</summary>
public sealed class WebLlmFactory : WebApplicationFactory<Program>
{
    public string DataDirectory { get; } = Directory.CreateTempSubdirectory("webllm-server-tests-").FullName;

    protected override void ConfigureWebHost(IWebHostBuilder builder) =>
        builder.UseSetting("WebLlm:DataDirectory", DataDirectory);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(DataDirectory, recursive: true);
    }
}
