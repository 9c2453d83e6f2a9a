using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using WebLlm.Contracts;
using WebLlm.Server.Inference;

namespace WebLlm.Server.Tests.Inference;

/// <summary>
/// The server on a real loopback port (Kestrel), so clients see real sockets: the OpenAI SDK talks HTTP to it and
/// an aborted request is a closed connection. Inference settings are small so the limits are easy to reach.
/// </summary>
public sealed class InferenceServer : IAsyncDisposable
{
    public const int Context = 256;

    private InferenceServer(WebLlmFactory factory, Uri address)
    {
        Factory = factory;
        Address = address;
        // Disposing an unread response closes the connection, as a client going away does: by default SocketsHttpHandler
        // first drains it (up to 1 MB or 2 s) to reuse the connection, and a generation that ended meanwhile was never
        // disconnected (LimitsTests' disconnect test failed that way once).
        Http = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = address, Timeout = TimeSpan.FromMinutes(3) };
        Api = new Api(Http);
    }

    public WebLlmFactory Factory { get; }
    public Uri Address { get; }
    public HttpClient Http { get; }
    public Api Api { get; }
    public InferenceSlots Slots => Factory.Services.GetRequiredService<InferenceSlots>();
    public InferenceCache Cache => Factory.Services.GetRequiredService<InferenceCache>();

    public static Task<InferenceServer> StartAsync(string? dataDirectory = null, int timeoutSeconds = 120, int queueLength = 1, long? cacheBytes = null)
    {
        var settings = new Dictionary<string, string>
        {
            ["WebLlm:Inference:Slots"] = "1",
            ["WebLlm:Inference:QueueLength"] = queueLength.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["WebLlm:Inference:TimeoutSeconds"] = timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["WebLlm:Inference:RetryAfterSeconds"] = "3",
        };
        if (cacheBytes is long bytes) settings["WebLlm:Inference:CacheBytes"] = bytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var factory = new WebLlmFactory(dataDirectory, settings);
        return Task.FromResult(new InferenceServer(factory, factory.StartKestrel()));
    }

    /// <summary>A tiny run with a 256-token context (room for long generations), trained a few steps with a checkpoint.</summary>
    public static CreateRunRequest Run(int maxSteps = 6, int checkpointEvery = 6) => new()
    {
        Preset = "tiny", MaxSteps = maxSteps, BatchSize = 2, BlockSize = Context, EvalEvery = 1000, EvalBatches = 1,
        CheckpointEvery = checkpointEvery, SampleEvery = 1000, SampleTokens = 4, WarmupSteps = 1,
    };

    public async Task<RunDto> TrainAsync(CreateRunRequest? request = null)
    {
        var run = await Api.LaunchAsync(request ?? Run());
        return await Api.WaitForStatusAsync(run.Id, RunStatus.Completed);
    }

    public Task<HttpResponseMessage> PostJsonAsync(string route, object body, CancellationToken ct = default) =>
        Http.PostAsync(route, new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"), ct);

    /// <summary>Sends a request and returns as soon as the response headers are in (the body streams on).</summary>
    public Task<HttpResponseMessage> StartStreamAsync(string route, object body, CancellationToken ct = default) =>
        Http.SendAsync(new HttpRequestMessage(HttpMethod.Post, route) { Content = JsonContent.Create(body) }, HttpCompletionOption.ResponseHeadersRead, ct);

    public async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Api.Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("Never happened: " + what);
            await Task.Delay(10);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Factory.DisposeAsync();
    }
}

/// <summary>One server and one trained run shared by a test class.</summary>
public sealed class InferenceFixture : IAsyncLifetime
{
    public InferenceServer Server { get; private set; } = null!;
    public RunDto Run { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await InferenceServer.StartAsync();
        Run = await Server.TrainAsync();
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
