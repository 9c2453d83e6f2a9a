using System.Net;
using System.Net.Http.Json;
using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;
using WebLlm.Client.Services;
using WebLlm.Contracts;

namespace WebLlm.Client.Tests;

/// <summary>Stands in for the server: components only see an HttpClient.</summary>
public sealed class FakeHandler(Func<HttpRequestMessage, HttpResponseMessage> respond) : HttpMessageHandler
{
    public List<(HttpMethod Method, string PathAndQuery, string? Body)> Requests { get; } = [];

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
        Requests.Add((request.Method, request.RequestUri!.PathAndQuery, body));
        return respond(request);
    }

    public static HttpResponseMessage Json<T>(T value, HttpStatusCode status = HttpStatusCode.OK) =>
        new(status) { Content = JsonContent.Create(value) };

    /// <summary>Steps as the server's packed columns (<see cref="ApiRoutes.RunMetricColumns"/>).</summary>
    public static HttpResponseMessage Columns(IReadOnlyList<StepMetricDto> steps) =>
        new(HttpStatusCode.OK) { Content = new ByteArrayContent(StepColumns.Encode(steps)) { Headers = { ContentType = new(StepColumns.MediaType) } } };

    public static HttpResponseMessage Problem(HttpStatusCode status, string json) =>
        new(status) { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/problem+json") };
}

/// <summary>A bUnit context with MudBlazor, the client services and a fake server.</summary>
public abstract class ClientTestContext : BunitContext, IAsyncLifetime
{
    Task IAsyncLifetime.InitializeAsync() => Task.CompletedTask;

    /// <summary>MudBlazor registers services that only dispose asynchronously; xunit 2 would call Dispose.</summary>
    async Task IAsyncLifetime.DisposeAsync() => await DisposeAsync();

    protected ClientTestContext()
    {
        Services.AddMudServices();
        // MudBlazor calls into its JS on render; a unit test of markup has no use for those answers.
        JSInterop.Mode = JSRuntimeMode.Loose;
        // 1 s by default: too short when `dotnet test WebLlm.sln` runs the browser and server suites beside this one on 2 cores.
        DefaultWaitTimeout = TimeSpan.FromSeconds(15);
        Services.AddWebLlmClient();
    }

    protected FakeHandler UseServer(Func<HttpRequestMessage, HttpResponseMessage> respond)
    {
        var handler = new FakeHandler(respond);
        Services.AddSingleton(new HttpClient(handler) { BaseAddress = new Uri("http://webllm.test/") });
        return handler;
    }
}
