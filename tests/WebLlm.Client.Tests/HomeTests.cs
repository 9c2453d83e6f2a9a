using System.Net;
using System.Net.Http.Json;
using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;
using WebLlm.Client.Pages;
using WebLlm.Contracts;

namespace WebLlm.Client.Tests;

public class HomeTests : BunitContext
{
    public HomeTests()
    {
        Services.AddMudServices();
        // MudBlazor calls into its JS on render; a unit test of markup has no use for those answers.
        JSInterop.Mode = JSRuntimeMode.Loose;
    }

    [Fact]
    public void Shows_server_is_up_and_device_when_info_arrives()
    {
        var info = new ServerInfo("1.2.3", "cpu", 2, "2.10.0", "/srv/webllm/data");
        UseServer(request =>
        {
            Assert.Equal(ApiRoutes.Info, request.RequestUri?.AbsolutePath);
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = JsonContent.Create(info) };
        });

        var home = Render<Home>();

        home.WaitForAssertion(() =>
            Assert.Contains("Server is up", home.Find("[data-testid=server-status]").TextContent));
        Assert.Equal("cpu", home.Find("[data-testid=device]").TextContent);
        Assert.Contains("/srv/webllm/data", home.Markup);
    }

    [Fact]
    public void Shows_error_alert_when_server_is_unreachable()
    {
        UseServer(_ => throw new HttpRequestException("Connection refused"));

        var home = Render<Home>();

        home.WaitForAssertion(() =>
            Assert.Contains("Server unreachable: Connection refused", home.Find("[data-testid=server-status]").TextContent));
        Assert.Empty(home.FindAll("[data-testid=device]"));
    }

    [Fact]
    public void Shows_error_alert_when_server_answers_with_an_error()
    {
        UseServer(_ => new HttpResponseMessage(HttpStatusCode.InternalServerError));

        var home = Render<Home>();

        home.WaitForAssertion(() =>
            Assert.Contains("Server unreachable", home.Find("[data-testid=server-status]").TextContent));
    }

    private void UseServer(Func<HttpRequestMessage, HttpResponseMessage> respond) =>
        Services.AddSingleton(new HttpClient(new FakeHandler(respond)) { BaseAddress = new Uri("http://webllm.test/") });

    /// <summary>Stands in for the server: the component only sees an HttpClient.</summary>
    private sealed class FakeHandler(Func<HttpRequestMessage, HttpResponseMessage> respond) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(respond(request));
    }
}
