using System.Diagnostics;
using System.Net;
using WebLlm.Client.Services;
using WebLlm.Contracts;

namespace WebLlm.Client.Tests;

public class RateLimitRetryTests : ClientTestContext
{
    private const string RateLimited = """{"title":"Too many requests","status":429,"code":"rate_limited","detail":"retry after 1 s"}""";

    [Fact]
    public async Task A_429_is_sent_again_after_its_Retry_After()
    {
        int calls = 0;
        var handler = UseServer(_ =>
        {
            if (Interlocked.Increment(ref calls) > 1) return FakeHandler.Json(Array.Empty<RunDto>());
            var refused = FakeHandler.Problem(HttpStatusCode.TooManyRequests, RateLimited);
            refused.Headers.RetryAfter = new(TimeSpan.FromSeconds(1));
            return refused;
        });
        var api = (WebLlmApi)Services.GetService(typeof(WebLlmApi))!;
        var clock = Stopwatch.StartNew();
        Assert.Empty(await api.GetRunsAsync());
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(900), $"sent again after {clock.ElapsedMilliseconds} ms");
        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task A_server_that_keeps_refusing_ends_in_the_rate_limited_problem()
    {
        var handler = UseServer(_ =>
        {
            var refused = FakeHandler.Problem(HttpStatusCode.TooManyRequests, RateLimited);
            refused.Headers.RetryAfter = new(TimeSpan.Zero);
            return refused;
        });
        var api = (WebLlmApi)Services.GetService(typeof(WebLlmApi))!;
        var problem = await Assert.ThrowsAsync<ApiProblem>(() => api.GetRunsAsync());
        Assert.Equal(ErrorCodes.RateLimited, problem.Code);
        Assert.Equal(5, handler.Requests.Count); // the first try and four more
    }
}
