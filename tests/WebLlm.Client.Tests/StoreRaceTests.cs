using Microsoft.Extensions.DependencyInjection;
using WebLlm.Client.Services;
using WebLlm.Contracts;
using static WebLlm.Client.Tests.TestData;

namespace WebLlm.Client.Tests;

public class StoreRaceTests : ClientTestContext
{
    [Fact]
    public void A_late_preparing_answer_does_not_hide_a_pushed_ready_dataset()
    {
        UseServer(_ => FakeHandler.Json(Array.Empty<object>()));
        var store = Services.GetRequiredService<RunStore>();

        store.ApplyDataset(Dataset(5, DatasetStatus.Ready));     // the hub's DatasetUpdated came first
        store.ApplyDataset(Dataset(5, DatasetStatus.Preparing)); // then the upload's 202 answer

        Assert.Equal(DatasetStatus.Ready, Assert.Single(store.Datasets).Status);
    }

    [Fact]
    public void A_run_answer_applies_when_no_push_came_in_between()
    {
        UseServer(_ => FakeHandler.Json(Array.Empty<object>()));
        var store = Services.GetRequiredService<RunStore>();

        var mark = store.Mark(3);
        store.Apply(Run(3, RunStatus.Paused), mark);

        Assert.Equal(RunStatus.Paused, Assert.Single(store.Runs).Status);
    }
}
