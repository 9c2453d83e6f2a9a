using System.Net;
using Bunit;
using WebLlm.Client.Components;
using WebLlm.Contracts;

namespace WebLlm.Client.Tests;

public class ServerStatusTests : ClientTestContext
{
    [Fact]
    public void Shows_server_is_up_and_device_when_info_arrives()
    {
        var info = new ServerInfo("1.2.3", "cpu", 2, "2.10.0", "/srv/webllm/data");
        UseServer(request =>
        {
            Assert.Equal(ApiRoutes.Info, request.RequestUri?.AbsolutePath);
            return FakeHandler.Json(info);
        });

        var home = Render<ServerStatus>();

        home.WaitForAssertion(() =>
            Assert.Contains("Server is up", home.Find("[data-testid=server-status]").TextContent));
        Assert.Equal("cpu", home.Find("[data-testid=device]").TextContent);
        Assert.Contains("/srv/webllm/data", home.Markup);
    }

    [Fact]
    public void Shows_error_alert_when_server_is_unreachable()
    {
        UseServer(_ => throw new HttpRequestException("Connection refused"));

        var home = Render<ServerStatus>();

        home.WaitForAssertion(() =>
            Assert.Contains("Server unreachable: Connection refused", home.Find("[data-testid=server-status]").TextContent));
        Assert.Empty(home.FindAll("[data-testid=device]"));
    }

    [Fact]
    public void Shows_error_alert_when_server_answers_with_an_error()
    {
        UseServer(_ => new HttpResponseMessage(HttpStatusCode.InternalServerError));

        var home = Render<ServerStatus>();

        home.WaitForAssertion(() =>
            Assert.Contains("Server unreachable", home.Find("[data-testid=server-status]").TextContent));
    }
}
