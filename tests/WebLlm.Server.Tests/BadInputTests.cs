using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using WebLlm.Contracts;

namespace WebLlm.Server.Tests;

/// <summary>One server with a finished run (id 1) and small body limits, shared by every row of the bad-input table.</summary>
public sealed class BadInputFactory() : WebLlmFactory(null, new()
{
    ["WebLlm:MaxRequestBodyBytes"] = "65536",
    ["WebLlm:MaxUploadBytes"] = "100000",
    ["WebLlm:RateLimit:Burst"] = "1000",
})
{
    private readonly SemaphoreSlim once = new(1, 1);
    private int runId;

    /// <summary>A Completed run, made on first use.</summary>
    public async Task<int> CompletedRunAsync()
    {
        await once.WaitAsync();
        try
        {
            if (runId != 0) return runId;
            var api = new Api(CreateClient());
            runId = (await api.LaunchAsync(Api.Tiny(maxSteps: 10))).Id;
            await api.WaitForStatusAsync(runId, RunStatus.Completed);
            return runId;
        }
        finally
        {
            once.Release();
        }
    }
}

/// <summary>
/// docs/RELIABILITY.md's bad-input table, one row per case: {run} is a Completed run. Bodies are UTF-8 unless they
/// start with "hex:" (raw bytes, for invalid UTF-8) or "big:" (that many bytes of JSON).
/// </summary>
public class BadInputTests(BadInputFactory factory) : IClassFixture<BadInputFactory>
{
    [Theory]
    // runs
    [InlineData("POST", "/api/runs", "application/json", """{"preset":""", 400, "bad_request")]
    [InlineData("POST", "/api/runs", "application/xml", "<run/>", 415, "unsupported_media_type")]
    [InlineData("POST", "/api/runs", "text/plain", """{"preset":"tiny"}""", 415, "unsupported_media_type")]
    [InlineData("POST", "/api/runs", "text/plain-no-header", """{"preset":"tiny"}""", 403, "cross_site_request")]
    [InlineData("POST", "/api/runs", "application/json", "big:200000", 413, "payload_too_large")]
    [InlineData("POST", "/api/runs", "application/json", """{"maxSteps":"ten"}""", 400, "bad_request")]
    [InlineData("POST", "/api/runs", "application/json", """{"maxSteps":-1}""", 400, "validation_failed")]
    [InlineData("POST", "/api/runs", "application/json", """{"maxSteps":99999999999}""", 400, "bad_request")]
    [InlineData("POST", "/api/runs", "application/json", """{"learningRate":"NaN"}""", 400, "validation_failed")]
    [InlineData("POST", "/api/runs", "application/json", """{"learningRate":1e400}""", 400, "validation_failed")]
    [InlineData("POST", "/api/runs", "application/json", """{"datasetId":999}""", 400, "validation_failed")]
    [InlineData("POST", "/api/runs", "application/json", "hex:7B22707265736574223A2274C3A9FF227D", 400, "bad_request")]
    [InlineData("POST", "/api/runs", "application/json", "", 400, "bad_request")]
    [InlineData("GET", "/api/runs/999", null, null, 404, "run_not_found")]
    [InlineData("GET", "/api/runs/abc", null, null, 404, "not_found")]
    [InlineData("POST", "/api/runs/999/pause", null, null, 404, "run_not_found")]
    [InlineData("POST", "/api/runs/{run}/resume", null, null, 409, "invalid_transition")]
    [InlineData("POST", "/api/runs/{run}/pause", null, null, 409, "invalid_transition")]
    [InlineData("POST", "/api/runs/{run}/stop", null, null, 409, "invalid_transition")]
    [InlineData("DELETE", "/api/runs/999", null, null, 404, "run_not_found")]
    // metrics
    [InlineData("GET", "/api/runs/{run}/metrics?maxPoints=1", null, null, 400, "validation_failed")]
    [InlineData("GET", "/api/runs/{run}/metrics?maxPoints=abc", null, null, 400, "bad_request")]
    [InlineData("GET", "/api/runs/{run}/metrics?fromStep=1e999", null, null, 400, "bad_request")]
    [InlineData("GET", "/api/runs/999/metrics", null, null, 404, "run_not_found")]
    [InlineData("GET", "/api/runs/{run}/metrics/columns?maxPoints=1", null, null, 400, "validation_failed")]
    [InlineData("GET", "/api/runs/{run}/metrics/columns?toStep=x", null, null, 400, "bad_request")]
    [InlineData("GET", "/api/runs/999/metrics/columns", null, null, 404, "run_not_found")]
    [InlineData("GET", "/api/runs/999/checkpoints", null, null, 404, "run_not_found")]
    // datasets
    [InlineData("POST", "/api/datasets", "application/json", """{"name":"x"}""", 415, "unsupported_media_type")]
    [InlineData("POST", "/api/datasets", "application/x-www-form-urlencoded-no-header", "name=x", 403, "cross_site_request")]
    [InlineData("POST", "/api/datasets", "multipart:evil.exe", "hello", 400, "validation_failed")]
    [InlineData("POST", "/api/datasets", "multipart:a.txt", "hex:68656C6C6FFF", 400, "invalid_text")]
    [InlineData("POST", "/api/datasets", "multipart:a.txt", "big:150000", 413, "payload_too_large")]
    [InlineData("POST", "/api/datasets", "multipart-no-header:a.txt", "hello", 403, "cross_site_request")]
    [InlineData("GET", "/api/datasets/999", null, null, 404, "dataset_not_found")]
    [InlineData("GET", "/api/datasets/999/preview", null, null, 404, "dataset_not_found")]
    [InlineData("DELETE", "/api/datasets/999", null, null, 404, "dataset_not_found")]
    // generate
    [InlineData("POST", "/api/runs/{run}/generate", "application/json", """{"prompt":""", 400, "bad_request")]
    [InlineData("POST", "/api/runs/{run}/generate", "application/json", """{"prompt":""}""", 400, "validation_failed")]
    [InlineData("POST", "/api/runs/{run}/generate", "application/json", """{"prompt":"a","maxTokens":100000}""", 400, "validation_failed")]
    [InlineData("POST", "/api/runs/{run}/generate", "application/json", """{"prompt":"a","temperature":-1}""", 400, "validation_failed")]
    [InlineData("POST", "/api/runs/{run}/generate", "application/json", """{"prompt":"a","temperature":"hot"}""", 400, "bad_request")]
    [InlineData("POST", "/api/runs/{run}/generate", "application/json", "big:200000", 413, "payload_too_large")]
    [InlineData("POST", "/api/runs/{run}/generate", "text/plain-no-header", "hello", 403, "cross_site_request")]
    [InlineData("POST", "/api/runs/999/generate", "application/json", """{"prompt":"a"}""", 404, "run_not_found")]
    // unknown routes
    [InlineData("GET", "/api/nothing-here", null, null, 404, "not_found")]
    public async Task Bad_input_gets_the_documented_status_and_code(string method, string path, string? contentType, string? body, int status, string code)
    {
        if (path.Contains("{run}")) path = path.Replace("{run}", (await factory.CompletedRunAsync()).ToString());
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        var http = factory.CreateClient();
        if (contentType is not null) request.Content = Content(contentType, body ?? "", http);
        var response = await http.SendAsync(request);
        await Api.AssertProblemAsync(response, (HttpStatusCode)status, code);
        string text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(" at WebLlm.", text); // no stack traces
        Assert.DoesNotContain(factory.DataDirectory, text); // no server paths
    }

    private static HttpContent Content(string contentType, string body, HttpClient http)
    {
        byte[] bytes = body.StartsWith("hex:") ? Convert.FromHexString(body[4..])
            : body.StartsWith("big:") ? Encoding.UTF8.GetBytes("{\"name\":\"" + new string('x', int.Parse(body[4..])) + "\"}")
            : Encoding.UTF8.GetBytes(body);
        if (contentType.Contains("-no-header"))
        {
            http.DefaultRequestHeaders.Remove("X-WebLlm-Request"); // what a cross-site form sends
            contentType = contentType.Replace("-no-header", "");
        }
        if (!contentType.StartsWith("multipart")) return new ByteArrayContent(bytes) { Headers = { ContentType = MediaTypeHeaderValue.Parse(contentType) } };
        return new MultipartFormDataContent { { new ByteArrayContent(bytes), "files", contentType.Split(':')[1] } };
    }

    [Fact]
    public async Task Bad_hub_calls_fail_the_call_not_the_connection_or_the_server()
    {
        await using var hub = new HubConnectionBuilder()
            .WithUrl(new Uri(factory.Server.BaseAddress, ApiRoutes.TrainingHub), o =>
            {
                o.Transports = HttpTransportType.LongPolling;
                o.HttpMessageHandlerFactory = _ => factory.Server.CreateHandler();
            })
            .Build();
        await hub.StartAsync();
        await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync(TrainingHubMethods.SubscribeRun, "not a number"));
        await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync("Pause", 1)); // control is REST only
        await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync(TrainingHubMethods.SubscribeRun, 1, 2));
        await hub.InvokeAsync(TrainingHubMethods.SubscribeRun, 999); // an unknown run: subscribed, nothing ever arrives
        Assert.Equal(HubConnectionState.Connected, hub.State);
        Assert.Equal(HttpStatusCode.NotFound, (await factory.CreateClient().GetAsync(ApiRoutes.TrainingHub + "?id=unknown")).StatusCode); // SignalR's own answer
    }
}
