using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using WebLlm.Contracts;

namespace WebLlm.Server.Tests;

public class InfoEndpointsTests(WebLlmFactory factory) : IClassFixture<WebLlmFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task Health_is_ok()
    {
        var response = await _client.GetAsync(ApiRoutes.Health);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Info_reports_cpu_torch_version_and_configured_data_directory()
    {
        var info = await _client.GetFromJsonAsync<ServerInfo>(ApiRoutes.Info);

        Assert.NotNull(info);
        Assert.Equal("cpu", info.Device);
        Assert.Matches(@"^\d+\.\d+", info.TorchVersion);
        Assert.True(info.Threads > 0);
        Assert.Equal(factory.DataDirectory, info.DataDirectory);
    }

    [Theory]
    [InlineData("GET", "/api/no-such-thing")]
    [InlineData("GET", "/api/runs/42/nothing")]
    [InlineData("POST", "/api/no-such-thing")]
    public async Task Unknown_api_route_is_problem_details_404_not_the_ui(string method, string path)
    {
        var response = await _client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(404, problem.RootElement.GetProperty("status").GetInt32());
        Assert.Equal("not_found", problem.RootElement.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Unknown_non_api_route_serves_the_ui()
    {
        var response = await _client.GetAsync("/runs/some-client-side-page");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
    }
}
