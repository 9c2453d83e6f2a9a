using Bunit;
using Microsoft.Extensions.DependencyInjection;
using WebLlm.Client.Pages;
using WebLlm.Client.Services;
using WebLlm.Contracts;
using static WebLlm.Client.Tests.TestData;

namespace WebLlm.Client.Tests;

public class TrainingHubTests : ClientTestContext
{
    [Fact]
    public void Subscriptions_are_counted_per_group_and_leave_on_the_last_dispose()
    {
        var hub = Services.GetRequiredService<TrainingHub>();

        var first = hub.SubscribeRun(4, new RunHandlers());
        var second = hub.SubscribeRun(4, new RunHandlers());
        var list = hub.SubscribeRuns(new ListHandlers());
        Assert.Equal([4], hub.SubscribedRuns);
        Assert.True(first.Joined.IsCompleted); // not connected yet: joined on connect
        Assert.True(hub.ListSubscribed);

        first.Dispose();
        first.Dispose(); // idempotent
        Assert.Equal([4], hub.SubscribedRuns);
        second.Dispose();
        list.Dispose();

        Assert.Empty(hub.SubscribedRuns);
        Assert.False(hub.ListSubscribed);
        Assert.Equal(HubState.NotStarted, hub.State);
    }

    [Fact]
    public void Pages_watch_while_shown_and_let_go_when_disposed()
    {
        UseServer(request => request.RequestUri!.AbsolutePath switch
        {
            ApiRoutes.Runs => FakeHandler.Json(new[] { Run(4, RunStatus.Running, 10) }),
            var p when p == ApiRoutes.Run(4) => FakeHandler.Json(Run(4, RunStatus.Running, 10)),
            var p when p == ApiRoutes.RunMetricColumns(4) => FakeHandler.Columns([.. Steps(1, 10)]),
            _ => FakeHandler.Json(Array.Empty<object>()),
        });
        var hub = Services.GetRequiredService<TrainingHub>();

        var runs = Render<Runs>();
        var page = Render<RunPage>(p => p.Add(r => r.Id, 4));
        page.WaitForAssertion(() => Assert.Equal("10", page.Find("[data-testid=chart-lr]").GetAttribute("data-points")));
        Assert.True(hub.ListSubscribed);
        Assert.Equal([4], hub.SubscribedRuns);

        page.Instance.Dispose();
        runs.Instance.Dispose();

        Assert.Empty(hub.SubscribedRuns);
        Assert.False(hub.ListSubscribed);
    }
}
