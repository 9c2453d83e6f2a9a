using WebLlm.Client.Services;
using WebLlm.Contracts;
using static WebLlm.Client.Tests.TestData;

namespace WebLlm.Client.Tests;

public class StoreMergeTests
{
    private static void AssertEveryStepOnce(RunState state, long from, long to)
    {
        var steps = state.Steps.Steps.Select(s => s.Step).ToList();
        Assert.Equal(Enumerable.Range((int)from, (int)(to - from + 1)).Select(i => (long)i), steps);
    }

    [Fact]
    public void Late_join_merges_history_and_buffered_pushes_into_every_step_once()
    {
        var state = new RunState(1);
        state.Feed.BeginBuffering();
        // Pushes arrive after joining the group but before the REST snapshot: they overlap its tail.
        state.Feed.Push(() => state.Steps.Merge(Steps(95, 100)));
        state.Feed.Push(() => state.Steps.Merge(Steps(101, 110)));
        Assert.Equal(0, state.Steps.Count); // buffered, not applied

        RunStore.MergeSnapshot(state, Run(step: 100), Steps(1, 100), [], [], [], []);
        state.Feed.EndBuffering();

        AssertEveryStepOnce(state, 1, 110);
    }

    [Fact]
    public void Reconnect_refill_fills_the_gap_without_duplicates()
    {
        var state = new RunState(1);
        state.Steps.Merge(Steps(1, 50));
        // Disconnected during 51..80; after reconnecting, pushes from 81 on race the refill of 51.. .
        state.Feed.BeginBuffering();
        state.Feed.Push(() => state.Steps.Merge(Steps(81, 90)));
        RunStore.MergeSnapshot(state, Run(step: 85), Steps(51, 85), [], [], [], []);
        state.Feed.EndBuffering();
        state.Feed.Push(() => state.Steps.Merge(Steps(91, 95)));

        AssertEveryStepOnce(state, 1, 95);
    }

    [Fact]
    public void Out_of_order_and_repeated_batches_keep_steps_strictly_increasing()
    {
        var series = new StepSeries();
        Assert.Equal(10, series.Merge(Steps(11, 20)));
        Assert.Equal(10, series.Merge(Steps(1, 10)));
        Assert.Equal(5, series.Merge(Steps(15, 25)));
        Assert.Equal(0, series.Merge(Steps(1, 25)));
        Assert.Equal(Enumerable.Range(1, 25).Select(i => (long)i), series.Steps.Select(s => s.Step));
        Assert.Equal(25, series.LastStep);
    }

    [Fact]
    public void A_run_that_went_back_to_a_checkpoint_drops_the_steps_after_it()
    {
        var state = new RunState(1);
        RunStore.MergeSnapshot(state, Run(status: RunStatus.Running, step: 120), Steps(1, 120), [new EvalDto(100, 2, DateTime.UtcNow)], [], [], []);

        // The server restarted: the run resumes from its checkpoint at step 100 and trains 101.. again.
        RunStore.MergeSnapshot(state, Run(status: RunStatus.Interrupted, step: 100), [], [], [], [], []);
        state.Steps.Merge(Steps(101, 105).Select(s => s with { Loss = 9 }));

        AssertEveryStepOnce(state, 1, 105);
        Assert.All(state.Steps.Steps.Skip(100), s => Assert.Equal(9, s.Loss));
        Assert.Single(state.Evals);
    }

    [Fact]
    public void A_summary_that_lags_the_pushed_steps_keeps_them()
    {
        var state = new RunState(1);
        RunStore.MergeSnapshot(state, Run(status: RunStatus.Running, step: 50), Steps(1, 60), [], [], [], []);
        RunStore.MergeSnapshot(state, Run(status: RunStatus.Running, step: 55), [], [], [], [], []);
        AssertEveryStepOnce(state, 1, 60);
    }

    [Fact]
    public void Evals_samples_and_checkpoints_are_kept_once_in_step_order()
    {
        var state = new RunState(1);
        var t = DateTime.UtcNow;
        state.Feed.BeginBuffering();
        state.Feed.Push(() => { }); // nothing, just buffering
        RunStore.MergeSnapshot(state, Run(), [],
            [new EvalDto(200, 2.5, t), new EvalDto(100, 2.9, t), new EvalDto(200, 2.5, t)],
            [new SampleDto(100, "The ", "The a", t), new SampleDto(100, "Once", "Once b", t), new SampleDto(100, "The ", "The a", t)],
            [new CheckpointDto(100, 1, "x", null, t)], []);
        state.Feed.EndBuffering();

        Assert.Equal([100L, 200L], state.Evals.Select(e => e.Step));
        Assert.Equal(2, state.Samples.Count);
        Assert.Single(state.Checkpoints);
    }
}
