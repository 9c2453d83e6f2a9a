using WebLlm.Contracts;
using WebLlm.Server.Runs;

namespace WebLlm.Server.Tests;

public class DownsamplerTests
{
    private static StepMetricDto Step(long step, double? loss) => new(step, loss, 1e-3, 1, 100, 10, 0.01, step * 128, step, loss is null);

    [Fact]
    public void Keeps_each_buckets_minimum_and_maximum_in_step_order_so_spikes_survive()
    {
        // 100 steps of a slowly falling loss with one spike at step 37 and one non-finite step at 80.
        var steps = Enumerable.Range(1, 100).Select(i => Step(i, i == 37 ? 50 : i == 80 ? null : 10 - i * 0.05)).ToList();

        var kept = Downsampler.MinMax(steps, 10);

        Assert.InRange(kept.Count, 5, 11);
        Assert.Contains(kept, s => s.Step == 37);
        Assert.Contains(kept, s => s.Step == 80 && s.NonFinite);
        Assert.Equal(100, kept[^1].Step);
        Assert.Equal(1, kept[0].Step); // the first bucket's maximum (the loss falls)
        Assert.True(kept.Zip(kept.Skip(1)).All(p => p.First.Step < p.Second.Step));
        // Bucket 1 holds steps 1..20: its max is step 1, its min step 20.
        Assert.Contains(kept, s => s.Step == 20);
    }

    [Fact]
    public void Short_series_are_returned_as_they_are()
    {
        var steps = Enumerable.Range(1, 5).Select(i => Step(i, 5 - i)).ToList();
        Assert.Same(steps, Downsampler.MinMax(steps, 10));
    }

    [Fact]
    public void A_bucket_whose_minimum_and_maximum_are_one_row_keeps_it_once()
    {
        var steps = Enumerable.Range(1, 6).Select(i => Step(i, 1)).ToList(); // flat: min == max == first row of each bucket
        var kept = Downsampler.MinMax(steps, 4);
        Assert.Equal([1L, 4L, 6L], kept.Select(s => s.Step));
    }
}
