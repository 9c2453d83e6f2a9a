using WebLlm.Client.Charts;

namespace WebLlm.Client.Tests;

public class ChartMathTests
{
    private static ChartPoint[] Line(int n, Func<int, double> y) => [.. Enumerable.Range(1, n).Select(i => new ChartPoint(i, y(i)))];

    [Fact]
    public void Downsample_keeps_every_bucket_min_and_max_and_never_drops_a_spike()
    {
        var points = Line(50_000, i => 2 + Math.Sin(i / 100.0) * 0.1);
        points[31_337] = new ChartPoint(31_338, 40);   // one-step spike up
        points[7_001] = new ChartPoint(7_002, -5);     // and down

        var reduced = ChartMath.Downsample(points, 300);

        Assert.InRange(reduced.Count, 300, 602);
        Assert.Contains(new ChartPoint(31_338, 40), reduced);
        Assert.Contains(new ChartPoint(7_002, -5), reduced);
        Assert.Equal(points[0], reduced[0]);
        Assert.Equal(points[^1], reduced[^1]);
        Assert.Equal(reduced.OrderBy(p => p.X), reduced); // x order kept
        Assert.Equal(points.Max(p => p.Y), reduced.Max(p => p.Y));
        Assert.Equal(points.Min(p => p.Y), reduced.Min(p => p.Y));
    }

    [Fact]
    public void Downsample_keeps_min_and_max_of_each_bucket()
    {
        // 4 buckets of 5 inner points each (plus first and last).
        var points = Line(22, i => i % 5 == 0 ? 10 + i : i % 5 == 3 ? -i : 0);
        var reduced = ChartMath.Downsample(points, 4);
        var inner = points.Skip(1).Take(20).ToList();
        for (var b = 0; b < 4; b++)
        {
            var bucket = inner.Skip(b * 5).Take(5).ToList();
            Assert.Contains(bucket.MinBy(p => p.Y), reduced);
            Assert.Contains(bucket.MaxBy(p => p.Y), reduced);
        }
    }

    /// <summary>
    /// Block extremes change how much is read, never what comes out: random series with ties, gaps (NaN), zeros and
    /// negatives (left out on log axes), a summary grown in uneven appends as a live run does, against a plain scan of
    /// random windows (zoom) and bucket counts.
    /// </summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Downsample_with_block_extremes_is_the_plain_scan_point_for_point(bool positiveX, bool positiveY)
    {
        var random = new Random(7);
        for (var trial = 0; trial < 40; trial++)
        {
            var n = random.Next(1, 20_000);
            var points = RandomSeries(random, n);
            var blocks = new BlockExtremes(positiveX, positiveY);
            for (var grown = 0; grown < n;)
            {
                grown = Math.Min(n, grown + random.Next(1, 3_000));
                blocks.Extend(points.AsSpan(0, grown));
            }
            for (var window = 0; window < 10; window++)
            {
                var start = window == 0 ? 0 : random.Next(n);
                var end = window == 0 ? n : random.Next(start + 1, n + 1);
                var buckets = random.Next(1, 400);
                Assert.Equal(ChartMath.Downsample(points.AsSpan(start, end - start), buckets, positiveX, positiveY),
                    ChartMath.Downsample(points, start, end, buckets, positiveX, positiveY, blocks));
            }
        }
    }

    /// <summary>
    /// The live chart's downsampling of a whole series keeps its buckets' extremes from render to render; what comes out
    /// must be a plain scan of the same buckets (runs of whole blocks, then the last blocks, then the points after them)
    /// however the series grew, including across the moments the bucket size changes.
    /// </summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Whole_series_downsampling_is_a_plain_scan_of_its_buckets_as_the_series_grows(bool positiveX, bool positiveY)
    {
        var random = new Random(11);
        for (var trial = 0; trial < 12; trial++)
        {
            var n = random.Next(1, 60_000);
            var points = RandomSeries(random, n);
            var buckets = random.Next(1, 200);
            var blocks = new BlockExtremes(positiveX, positiveY);
            for (var grown = 0; grown < n;)
            {
                grown = Math.Min(n, grown + random.Next(1, 2_000));
                var shown = points.AsSpan(0, grown);
                blocks.Extend(shown);
                Assert.Equal(PlainScanOfWholeBlockBuckets(shown, buckets, positiveX, positiveY), ChartMath.DownsampleWhole(shown, buckets, blocks));
            }
        }
    }

    [Fact]
    public void Whole_series_downsampling_of_a_long_run_keeps_spikes_ends_and_order_in_about_two_points_a_bucket()
    {
        var points = Line(200_000, i => 2 + Math.Sin(i / 100.0) * 0.1);
        points[131_337] = new ChartPoint(131_338, 40);
        points[7_001] = new ChartPoint(7_002, -5);
        var blocks = new BlockExtremes(false, false);
        blocks.Extend(points);

        var reduced = ChartMath.DownsampleWhole(points, 150, blocks);

        Assert.InRange(reduced.Count, 150, 2 * 150 + 6);
        Assert.Contains(new ChartPoint(131_338, 40), reduced);
        Assert.Contains(new ChartPoint(7_002, -5), reduced);
        Assert.Equal(points[0], reduced[0]);
        Assert.Equal(points[^1], reduced[^1]);
        Assert.Equal(reduced.OrderBy(p => p.X), reduced);
        Assert.Equal(reduced.Distinct().Count(), reduced.Count);
    }

    /// <summary>Ties, gaps (NaN), zeros and negatives (left out on log axes); the first x values are not positive.</summary>
    private static ChartPoint[] RandomSeries(Random random, int n)
    {
        var points = new ChartPoint[n];
        for (var i = 0; i < n; i++)
        {
            var y = random.Next(6) switch { 0 => double.NaN, 1 => 0, 2 => -1, 3 => random.Next(4), _ => random.NextDouble() * 10 };
            points[i] = new ChartPoint(i - 3, y);
        }
        return points;
    }

    private static List<ChartPoint> PlainScanOfWholeBlockBuckets(ReadOnlySpan<ChartPoint> points, int buckets, bool positiveX, bool positiveY)
    {
        var size = BlockExtremes.Size;
        var whole = points.Length / size;
        if (whole < buckets) return ChartMath.Downsample(points, buckets, positiveX, positiveY);
        var per = (whole + buckets - 1) / buckets;
        var full = whole / per;
        var ranges = new List<(int From, int To)>();
        for (var b = 0; b < full; b++) ranges.Add((b * per * size, (b + 1) * per * size));
        ranges.Add((full * per * size, whole * size));
        ranges.Add((whole * size, points.Length));
        bool Keeps(ChartPoint p) => (!positiveX || p.X > 0) && (!positiveY || p.Y > 0);
        var indices = new List<int>();
        if (Keeps(points[0])) indices.Add(0);
        foreach (var (from, to) in ranges)
        {
            int min = -1, max = -1;
            for (var i = from; i < to; i++)
            {
                if (!Keeps(points[i]) || double.IsNaN(points[i].Y)) continue;
                if (min < 0 || points[i].Y < points[min].Y) min = i;
                if (max < 0 || points[i].Y > points[max].Y) max = i;
            }
            if (min < 0) continue;
            indices.Add(Math.Min(min, max));
            indices.Add(Math.Max(min, max));
        }
        if (Keeps(points[^1])) indices.Add(points.Length - 1);
        var kept = new List<ChartPoint>();
        var last = -1;
        foreach (var i in indices)
        {
            if (i <= last) continue;
            kept.Add(points[i]);
            last = i;
        }
        return kept;
    }

    [Fact]
    public void Block_extremes_cover_whole_blocks_only_and_keep_the_first_of_equal_extremes()
    {
        var points = Line(BlockExtremes.Size * 2 + 5, i => i % 3 == 0 ? 1 : 0); // every block has several equal minima and maxima
        var blocks = new BlockExtremes(false, false);
        blocks.Extend(points);
        Assert.Equal(2 * BlockExtremes.Size, blocks.Covered);
        Assert.Equal((0, 2), blocks[0]); // index 0 is x = 1, y = 0 (the first min); index 2 is x = 3, y = 1 (the first max)
        Assert.Equal((BlockExtremes.Size + 1, BlockExtremes.Size), blocks[1]); // index 32 is x = 33, y = 1 (the max); index 33 is y = 0 (the min)
    }

    [Fact]
    public void Downsample_returns_short_series_unchanged()
    {
        var points = Line(10, i => i);
        Assert.Equal(points, ChartMath.Downsample(points, 300));
        Assert.Equal(9, ChartMath.Downsample(Line(10, i => i - 1), 300, positiveY: true).Count); // log axis: y = 0 left out
    }

    [Fact]
    public void Ema_of_zero_weight_is_the_input_and_of_a_constant_is_the_constant()
    {
        var noisy = Line(100, i => i % 2 == 0 ? 1 : 3);
        Assert.Equal(noisy, ChartMath.Ema(noisy, 0));

        var constant = Line(100, _ => 2.5);
        Assert.All(ChartMath.Ema(constant, 0.9), p => Assert.Equal(2.5, p.Y, 9));
    }

    [Fact]
    public void Ema_is_debiased_and_smooths_towards_the_mean()
    {
        var noisy = Line(1000, i => i % 2 == 0 ? 1 : 3);
        var smooth = ChartMath.Ema(noisy, 0.95);

        Assert.Equal(noisy[0].Y, smooth[0].Y, 9); // no pull towards zero at the start
        Assert.InRange(smooth[^1].Y, 1.9, 2.1);
        Assert.Equal(noisy.Select(p => p.X), smooth.Select(p => p.X));
        Assert.True(smooth.Skip(100).Max(p => p.Y) - smooth.Skip(100).Min(p => p.Y) < 0.2);
    }

    [Fact]
    public void Ema_follows_a_step_change_gradually()
    {
        var points = Line(200, i => i <= 100 ? 1 : 2);
        var smooth = ChartMath.Ema(points, 0.9);
        Assert.InRange(smooth[100].Y, 1.05, 1.2);
        Assert.InRange(smooth[^1].Y, 1.99, 2.0);
    }

    [Fact]
    public void Window_keeps_one_neighbour_either_side()
    {
        var points = Line(100, i => i);
        var (start, end) = ChartMath.Window(points, 10, 20);
        Assert.Equal(9, points[start].X);
        Assert.Equal(21, points[end - 1].X);
    }

    [Fact]
    public void Incremental_ema_equals_the_ema_of_the_whole_series()
    {
        var points = Line(1000, i => Math.Sin(i) + i * 0.01);
        var whole = ChartMath.Ema(points, 0.9);
        var state = new EmaState(0.9);
        var parts = new ChartPoint[points.Length];
        state.Extend(points.AsSpan(0, 400), parts.AsSpan(0, 400));
        state.Extend(points.AsSpan(400), parts.AsSpan(400));
        Assert.Equal(whole, parts);
    }

    [Fact]
    public void Nearest_picks_the_closest_x() =>
        Assert.Equal(42, ChartMath.Nearest(Line(100, i => i), 41.6).X);

    [Theory]
    [InlineData(0, 10, false, new[] { 0.0, 2, 4, 6, 8, 10 })]
    [InlineData(1, 1000, true, new[] { 1.0, 10, 100, 1000 })]
    public void Ticks_are_round(double min, double max, bool log, double[] expected) =>
        Assert.Equal(expected, ChartMath.Ticks(min, max, log, 5));

    [Fact]
    public void Ticks_of_a_range_too_narrow_for_its_magnitude_stay_bounded() =>
        Assert.InRange(ChartMath.Ticks(1e9, 1e9 + 1e-6, log: false).Count, 1, 30);

    [Theory]
    [InlineData(250.2, 0.2, "250.2")]
    [InlineData(250, 50, "250")]
    [InlineData(0.5, 0.25, "0.50")]
    [InlineData(20000, 5000, "20k")]
    public void Tick_labels_have_the_decimals_their_spacing_needs(double value, double spacing, string expected) =>
        Assert.Equal(expected, ChartMath.FormatTick(value, spacing));

    [Fact]
    public void Normalize_and_denormalize_are_inverse_on_log_axes()
    {
        var f = ChartMath.Normalize(100, 1, 10_000, log: true);
        Assert.Equal(0.5, f, 9);
        Assert.Equal(100, ChartMath.Denormalize(f, 1, 10_000, log: true), 6);
    }
}
