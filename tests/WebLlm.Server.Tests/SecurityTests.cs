using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using WebLlm.Contracts;
using WebLlm.Server.Security;

namespace WebLlm.Server.Tests;

public class SecurityTests
{
    private const string Key = "test-key-0123456789abcdef";

    /// <summary>A client without the same-site header the factory's default clients send.</summary>
    private static HttpClient Bare(WebLlmFactory factory)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Remove(SecurityExtensions.RequestHeader);
        return client;
    }

    [Theory]
    [InlineData("/api/info")]
    [InlineData("/")]
    [InlineData("/api/runs/999")]
    public async Task Every_response_carries_the_security_headers(string path)
    {
        await using var factory = new WebLlmFactory();
        var response = await factory.CreateClient().GetAsync(path);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
    }

    [Fact]
    public async Task A_foreign_host_header_is_rejected()
    {
        await using var factory = new WebLlmFactory();
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/info");
        request.Headers.Host = "evil.example";
        Assert.Equal(HttpStatusCode.BadRequest, (await factory.CreateClient().SendAsync(request)).StatusCode);
        request = new HttpRequestMessage(HttpMethod.Get, "/api/info");
        request.Headers.Host = "127.0.0.1:5080";
        Assert.Equal(HttpStatusCode.OK, (await factory.CreateClient().SendAsync(request)).StatusCode);
    }

    [Theory]
    [InlineData("http://127.0.0.1:5080", true)]
    [InlineData("http://localhost:5080", true)]
    [InlineData("http://[::1]:5080", true)]
    [InlineData("http://0.0.0.0:5080", false)]
    [InlineData("http://*:5080", false)]
    [InlineData("http://+:5080", false)]
    [InlineData("http://[::]:5080", false)]
    [InlineData("http://192.168.1.10:5080", false)]
    public void Loopback_addresses_are_told_apart_from_exposed_ones(string url, bool loopback) =>
        Assert.Equal(loopback, SecurityExtensions.IsLoopback(url));

    [Fact]
    public async Task Api_key_mode_needs_the_bearer_key_for_rest_and_access_token_only_for_the_hub()
    {
        await using var factory = new WebLlmFactory(null, new() { ["WebLlm:ApiKey"] = Key });
        var http = factory.CreateClient();
        await Api.AssertProblemAsync(await http.GetAsync(ApiRoutes.Runs), HttpStatusCode.Unauthorized, ErrorCodes.Unauthorized);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key + "x");
        await Api.AssertProblemAsync(await http.GetAsync(ApiRoutes.Runs), HttpStatusCode.Unauthorized, ErrorCodes.Unauthorized);
        await Api.AssertProblemAsync(await http.GetAsync("/v1/models"), HttpStatusCode.Unauthorized, ErrorCodes.Unauthorized);
        // access_token is for the hub only.
        await Api.AssertProblemAsync(await http.GetAsync(ApiRoutes.Runs + "?access_token=" + Key), HttpStatusCode.Unauthorized, ErrorCodes.Unauthorized);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(ApiRoutes.Health)).StatusCode); // health and the UI's files stay public
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/")).StatusCode);

        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(ApiRoutes.Runs)).StatusCode);
        // With the key, a multipart upload needs no same-site header: a cross-site form cannot carry the key.
        var bare = Bare(factory);
        bare.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        var upload = await bare.PostAsync(ApiRoutes.Datasets, new MultipartFormDataContent { { new ByteArrayContent("hello"u8.ToArray()), "files", "a.txt" } });
        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);

        Assert.Equal(HttpStatusCode.Unauthorized, (await Bare(factory).PostAsync(ApiRoutes.TrainingHub + "/negotiate?negotiateVersion=1&access_token=wrong", null)).StatusCode);
        await using var hub = new HubConnectionBuilder()
            .WithUrl(new Uri(factory.Server.BaseAddress, ApiRoutes.TrainingHub), o =>
            {
                o.Transports = HttpTransportType.LongPolling;
                o.HttpMessageHandlerFactory = _ => factory.Server.CreateHandler();
                o.AccessTokenProvider = () => Task.FromResult<string?>(Key);
            })
            .Build();
        await hub.StartAsync();
        await hub.InvokeAsync(TrainingHubMethods.SubscribeRuns);
    }

    [Fact]
    public async Task Cross_site_form_posts_cannot_change_state()
    {
        await using var factory = new WebLlmFactory();
        var bare = Bare(factory);
        await new Api(factory.CreateClient()).WaitForBuiltinAsync();
        MultipartFormDataContent Form() => new() { { new ByteArrayContent("hello"u8.ToArray()), "files", "a.txt" } };

        // A cross-site <form enctype=multipart/form-data>, urlencoded or text/plain post: 403, nothing created.
        await Api.AssertProblemAsync(await bare.PostAsync(ApiRoutes.Datasets, Form()), HttpStatusCode.Forbidden, ErrorCodes.CrossSiteRequest);
        await Api.AssertProblemAsync(await bare.PostAsync(ApiRoutes.Runs, new FormUrlEncodedContent([new("preset", "tiny")])), HttpStatusCode.Forbidden, ErrorCodes.CrossSiteRequest);
        await Api.AssertProblemAsync(await bare.PostAsync(ApiRoutes.Runs, new StringContent("{\"preset\":\"tiny\"}", Encoding.UTF8, "text/plain")), HttpStatusCode.Forbidden, ErrorCodes.CrossSiteRequest);
        // A bodiless cross-site post (fetch no-cors, a form without fields) that the browser labels cross-site.
        var noCors = new HttpRequestMessage(HttpMethod.Post, ApiRoutes.RunAction(1, "stop"));
        noCors.Headers.Add("Sec-Fetch-Site", "cross-site");
        await Api.AssertProblemAsync(await bare.SendAsync(noCors), HttpStatusCode.Forbidden, ErrorCodes.CrossSiteRequest);
        var foreignOrigin = new HttpRequestMessage(HttpMethod.Delete, ApiRoutes.Dataset(1));
        foreignOrigin.Headers.Add("Origin", "https://evil.example");
        await Api.AssertProblemAsync(await bare.SendAsync(foreignOrigin), HttpStatusCode.Forbidden, ErrorCodes.CrossSiteRequest);
        Assert.Single((await bare.GetFromJsonAsync<List<DatasetDto>>(ApiRoutes.Datasets))!); // only the built-in one

        // What the UI (same origin) and scripts do is allowed: the header, a same-origin fetch, JSON, or curl's bodiless post.
        var withHeader = new HttpRequestMessage(HttpMethod.Post, ApiRoutes.Datasets) { Content = Form() };
        withHeader.Headers.Add(SecurityExtensions.RequestHeader, "1");
        Assert.Equal(HttpStatusCode.Created, (await bare.SendAsync(withHeader)).StatusCode);
        var sameOrigin = new HttpRequestMessage(HttpMethod.Post, ApiRoutes.Datasets) { Content = Form() };
        sameOrigin.Headers.Add("Sec-Fetch-Site", "same-origin");
        Assert.Equal(HttpStatusCode.Created, (await bare.SendAsync(sameOrigin)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await bare.PostAsync(ApiRoutes.RunAction(999, "stop"), null)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await bare.PostAsJsonAsync(ApiRoutes.Runs, new { preset = "nope" })).StatusCode);
    }

    [Fact]
    public async Task Mutating_requests_beyond_the_rate_limit_get_429_with_retry_after()
    {
        await using var factory = new WebLlmFactory(null, new() { ["WebLlm:RateLimit:Burst"] = "3", ["WebLlm:RateLimit:PerSecond"] = "0.5" });
        var http = factory.CreateClient();
        var responses = new List<HttpResponseMessage>();
        for (int i = 0; i < 8; i++) responses.Add(await http.PostAsync(ApiRoutes.RunAction(999, "pause"), null));
        Assert.Equal(3, responses.Count(r => r.StatusCode == HttpStatusCode.NotFound));
        var limited = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.Equal(5, limited.Count);
        await Api.AssertProblemAsync(limited[0], HttpStatusCode.TooManyRequests, ErrorCodes.RateLimited);
        Assert.True(limited[0].Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(ApiRoutes.Runs)).StatusCode); // reads have their own bucket
    }

    [Fact]
    public async Task Reads_beyond_their_rate_limit_get_429_with_retry_after_while_health_the_ui_and_mutations_are_not_counted()
    {
        await using var factory = new WebLlmFactory(null, new() { ["WebLlm:RateLimit:ReadBurst"] = "4", ["WebLlm:RateLimit:ReadPerSecond"] = "0.5" });
        var http = factory.CreateClient();
        var responses = new List<HttpResponseMessage>();
        for (int i = 0; i < 10; i++) responses.Add(await http.GetAsync(ApiRoutes.Runs));
        Assert.Equal(4, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        var limited = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.Equal(6, limited.Count);
        await Api.AssertProblemAsync(limited[0], HttpStatusCode.TooManyRequests, ErrorCodes.RateLimited);
        Assert.True(limited[0].Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(ApiRoutes.Health)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsync(ApiRoutes.RunAction(999, "pause"), null)).StatusCode);
    }

    [Fact]
    public async Task Concurrent_reads_beyond_the_gate_and_its_queue_get_429()
    {
        await using var factory = new WebLlmFactory(null, new()
        {
            ["WebLlm:RateLimit:ReadBurst"] = "1000", ["WebLlm:RateLimit:ReadPerSecond"] = "1000",
            ["WebLlm:RateLimit:MaxConcurrentReads"] = "1", ["WebLlm:RateLimit:ReadQueue"] = "0",
            ["WebLlm:Testing:ReadDelayMs"] = "500", // each read holds the gate for 0.5 s: the others arrive while it is full
        });
        var api = new Api(factory.CreateClient());
        await api.WaitForBuiltinAsync();
        var statuses = (await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => api.Http.GetAsync(ApiRoutes.Datasets)))).Select(r => r.StatusCode).ToList();
        Assert.Contains(HttpStatusCode.OK, statuses);
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, s.ToString()));
    }

    [Fact]
    public async Task Hostile_upload_file_names_are_data_never_paths()
    {
        await using var factory = new WebLlmFactory();
        var api = new Api(factory.CreateClient());
        string[] names = ["../../etc/passwd.txt", "/etc/hostname.txt", "a\0b.txt", new string('x', 300) + ".txt", "evil\u202Etxt.exe.txt", "..\\..\\win.txt"];
        foreach (var name in names)
        {
            var form = new MultipartFormDataContent();
            var file = new ByteArrayContent("some text"u8.ToArray());
            file.Headers.ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = "\"files\"", FileNameStar = name };
            form.Add(file);
            var response = await api.Http.PostAsync(ApiRoutes.Datasets, form);
            Assert.True(response.StatusCode == HttpStatusCode.Created, $"{name}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            var dataset = (await response.Content.ReadFromJsonAsync<DatasetDto>())!;
            Assert.Equal(name, dataset.Source); // shown as given (JSON-escaped); the UI renders it as text
            Assert.True(dataset.Name.Length <= 100);
            Assert.Equal(["0000.txt"], Directory.GetFiles(Path.Combine(factory.DataDirectory, "uploads", dataset.Id.ToString())).Select(Path.GetFileName));
            await api.WaitForDatasetAsync(dataset.Id);
        }
        Assert.Empty(Directory.GetFiles(factory.DataDirectory, "*passwd*", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(factory.DataDirectory, "*win*", SearchOption.AllDirectories));
    }
}
