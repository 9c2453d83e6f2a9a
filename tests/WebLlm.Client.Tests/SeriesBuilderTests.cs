using WebLlm.Client.Charts;
using WebLlm.Client.Services;

namespace WebLlm.Client.Tests;

/// <summary>The chart series cache extends a growing run's points in place, and only while the run just grew.</summary>
public class SeriesBuilderTests
{
    private static List<double> Losses(ChartSeries series) => series.Points.Select(p => p.Y).ToList();

    [Fact]
    public void A_live_push_extends_the_same_points()
    {
        var steps = new StepSeries();
        steps.Merge(TestData.Steps(1, 100));
        var builder = new SeriesBuilder();
        var first = builder.Steps("train", "#000", steps, XAxis.Step, s => s.Loss);

        steps.Merge(TestData.Steps(101, 120));
        var second = builder.Steps("train", "#000", steps, XAxis.Step, s => s.Loss);

        Assert.Same(first.Points, second.Points); // grown in place: the chart's summaries of it stay valid
        Assert.Equal(Enumerable.Range(1, 120).Select(i => (double)i), second.Points.Select(p => p.X));
    }

    /// <summary>A run resumed from an older checkpoint trains the same step numbers again, with new losses.</summary>
    [Fact]
    public void Steps_retrained_after_a_truncation_replace_the_old_points_even_unseen()
    {
        var steps = new StepSeries();
        steps.Merge(Enumerable.Range(1, 100).Select(i => TestData.Step(i, loss: 5)));
        var builder = new SeriesBuilder();
        var before = builder.Steps("train", "#000", steps, XAxis.Step, s => s.Loss);

        steps.TruncateAfter(50);
        steps.Merge(Enumerable.Range(51, 50).Select(i => TestData.Step(i, loss: 1))); // back to 100 steps before the next render
        var after = builder.Steps("train", "#000", steps, XAxis.Step, s => s.Loss);

        Assert.NotSame(before.Points, after.Points);
        Assert.Equal(Enumerable.Repeat(5.0, 50).Concat(Enumerable.Repeat(1.0, 50)), Losses(after));
    }

    [Fact]
    public void Another_run_with_as_many_steps_gets_its_own_points()
    {
        var builder = new SeriesBuilder();
        var one = new StepSeries();
        one.Merge(Enumerable.Range(1, 10).Select(i => TestData.Step(i, loss: 3)));
        builder.Steps("train", "#000", one, XAxis.Step, s => s.Loss);

        var other = new StepSeries();
        other.Merge(Enumerable.Range(1, 12).Select(i => TestData.Step(i, loss: 7)));
        var series = builder.Steps("train", "#000", other, XAxis.Step, s => s.Loss);

        Assert.Equal(Enumerable.Repeat(7.0, 12), Losses(series));
    }
}
