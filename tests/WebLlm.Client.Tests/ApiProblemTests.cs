using System.Net;
using WebLlm.Client.Services;

namespace WebLlm.Client.Tests;

public class ApiProblemTests
{
    [Fact]
    public void Reads_code_title_detail_and_field_errors()
    {
        var problem = ApiProblem.Parse(HttpStatusCode.Conflict,
            """{"title":"Invalid transition","detail":"Run 3 is Completed.","status":409,"code":"invalid_transition"}""");
        Assert.Equal("invalid_transition", problem.Code);
        Assert.Equal("Invalid transition: Run 3 is Completed.", problem.Summary);
        Assert.Empty(problem.FieldErrors);

        var validation = ApiProblem.Parse(HttpStatusCode.BadRequest, """{"title":"Bad","errors":{"nHead":["a","b"]}}""");
        Assert.Equal(["a", "b"], validation.FieldErrors["nHead"]);
    }

    [Fact]
    public void Survives_a_body_that_is_not_json()
    {
        var problem = ApiProblem.Parse(HttpStatusCode.BadGateway, "<html>nope</html>", "Bad Gateway");
        Assert.Equal("Bad Gateway", problem.Title);
        Assert.Null(problem.Code);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 500)]
    [InlineData(3, 2000)]
    [InlineData(50, 5000)]
    [InlineData(100_000, 5000)]
    public void Retry_policy_never_gives_up_and_backs_off_to_five_seconds(long retries, int ms) =>
        Assert.Equal(TimeSpan.FromMilliseconds(ms), RetryForeverPolicy.DelayFor(retries));
}
