namespace WebLlm.Client.Charts;

public readonly record struct ChartPoint(double X, double Y);

/// <summary>One line of a chart. <see cref="Version"/> lets the chart skip work when nothing changed.</summary>
public sealed record ChartSeries(string Name, string Color, IReadOnlyList<ChartPoint> Points, bool Markers = false)
{
    public int Version { get; init; }
}

/// <summary>The running state of a debiased EMA, so a growing series is smoothed only over its new points.</summary>
public sealed class EmaState(double weight)
{
    private double _last;
    private double _debias = 1;

    public double Weight { get; } = Math.Min(Math.Max(weight, 0), 0.999);

    /// <summary>Smooths <paramref name="points"/> into the same positions of <paramref name="into"/>.</summary>
    public void Extend(ReadOnlySpan<ChartPoint> points, Span<ChartPoint> into)
    {
        for (var i = 0; i < points.Length; i++)
        {
            var p = points[i];
            if (Weight <= 0 || !double.IsFinite(p.Y))
            {
                into[i] = p;
                continue;
            }
            _last = _last * Weight + (1 - Weight) * p.Y;
            _debias *= Weight;
            into[i] = new ChartPoint(p.X, _last / (1 - _debias));
        }
    }
}

/// <summary>The numeric side of the charts: smoothing, downsampling, scales and ticks. Pure and tested.</summary>
public static class ChartMath
{
    /// <summary>
    /// TensorBoard's debiased exponential moving average: weight 0 returns the input, 0.99 is very smooth,
    /// and early points are not dragged towards zero.
    /// </summary>
    public static ChartPoint[] Ema(ReadOnlySpan<ChartPoint> points, double weight)
    {
        var state = new EmaState(weight);
        var result = new ChartPoint[points.Length];
        state.Extend(points, result);
        return result;
    }

    /// <summary>
    /// Reduces points (sorted by x) to at most about 2·<paramref name="buckets"/>: each bucket of consecutive
    /// points keeps its minimum and its maximum, in x order, so a spike is never dropped. The first and last
    /// points are always kept. On log axes, points with a non-positive coordinate are left out.
    /// </summary>
    public static List<ChartPoint> Downsample(ReadOnlySpan<ChartPoint> points, int buckets, bool positiveX = false, bool positiveY = false) =>
        Downsample(points, 0, points.Length, buckets, positiveX, positiveY, blocks: null);

    /// <summary>
    /// <see cref="Downsample(ReadOnlySpan{ChartPoint}, int, bool, bool)"/> of <c>points[start..end]</c>, with the
    /// extremes of whole blocks taken from <paramref name="blocks"/> (a summary of these same points, built with the same
    /// log-axis filter) instead of scanned: a bucket then costs at most two blocks' points plus one step per block,
    /// whatever the run's length. The result is the same point for point.
    /// </summary>
    public static List<ChartPoint> Downsample(ReadOnlySpan<ChartPoint> points, int start, int end, int buckets, bool positiveX, bool positiveY, BlockExtremes? blocks)
    {
        if (blocks is not null && (blocks.PositiveX != positiveX || blocks.PositiveY != positiveY)) blocks = null;
        var length = end - start;
        if (buckets < 1 || length <= 2 * buckets + 2)
        {
            var all = new List<ChartPoint>(length);
            for (var i = start; i < end; i++)
            {
                if (Keeps(points[i], positiveX, positiveY)) all.Add(points[i]);
            }
            return all;
        }
        var result = new List<ChartPoint>(2 * buckets + 2);
        if (Keeps(points[start], positiveX, positiveY)) result.Add(points[start]);
        var inner = length - 2;
        for (var b = 0; b < buckets; b++)
        {
            var from = start + 1 + (int)((long)inner * b / buckets);
            var to = start + 1 + (int)((long)inner * (b + 1) / buckets);
            var extremes = new Extremes();
            if (blocks is not null && blocks.Whole(from, to) is var (first, last) && last > first)
            {
                extremes.Scan(points, from, first * BlockExtremes.Size, positiveX, positiveY);
                for (var k = first; k < last; k++)
                {
                    var (min, max) = blocks[k];
                    extremes.Offer(points, min, max);
                }
                extremes.Scan(points, last * BlockExtremes.Size, to, positiveX, positiveY);
            }
            else
            {
                extremes.Scan(points, from, to, positiveX, positiveY);
            }
            if (extremes.Min < 0)
            {
                continue;
            }
            result.Add(points[Math.Min(extremes.Min, extremes.Max)]);
            if (extremes.Min != extremes.Max)
            {
                result.Add(points[Math.Max(extremes.Min, extremes.Max)]);
            }
        }
        if (Keeps(points[end - 1], positiveX, positiveY)) result.Add(points[end - 1]);
        return result;
    }

    /// <summary>
    /// A downsampling of a whole growing series (a live chart that is not zoomed), made to cost the same at 200,000
    /// points as at 5,000: each bucket is a run of whole blocks, the same number of blocks each, so a full bucket never
    /// changes and its extremes are kept in <paramref name="blocks"/>; a render reads one summary per bucket, the last
    /// bucket's blocks and the points after the last whole block. Each bucket keeps its first minimum and maximum in x
    /// order, plus the first and last points, like <see cref="Downsample(ReadOnlySpan{ChartPoint}, int, bool, bool)"/>,
    /// whose equal buckets it is while there are fewer whole blocks than buckets. <paramref name="blocks"/> must have been
    /// extended with these points.
    /// </summary>
    public static List<ChartPoint> DownsampleWhole(ReadOnlySpan<ChartPoint> points, int buckets, BlockExtremes blocks)
    {
        bool positiveX = blocks.PositiveX, positiveY = blocks.PositiveY;
        var whole = blocks.Covered / BlockExtremes.Size;
        if (buckets < 1 || whole < buckets || blocks.Covered > points.Length)
        {
            return Downsample(points, 0, points.Length, buckets, positiveX, positiveY, blocks.Covered <= points.Length ? blocks : null);
        }
        var perBucket = (whole + buckets - 1) / buckets; // blocks
        var full = blocks.Buckets(points, perBucket);
        var kept = new Kept(2 * buckets + 6);
        if (Keeps(points[0], positiveX, positiveY)) kept.Add(points, 0);
        foreach (var (min, max) in full) kept.AddInOrder(points, min, max);
        var last = new Extremes();
        for (var k = full.Count * perBucket; k < whole; k++)
        {
            var (min, max) = blocks[k];
            last.Offer(points, min, max);
        }
        kept.AddInOrder(points, last.Min, last.Max);
        var tail = new Extremes();
        tail.Scan(points, blocks.Covered, points.Length, positiveX, positiveY);
        kept.AddInOrder(points, tail.Min, tail.Max);
        if (Keeps(points[^1], positiveX, positiveY)) kept.Add(points, points.Length - 1);
        return kept.Points;
    }

    /// <summary>Points taken in increasing index order, each once.</summary>
    private sealed class Kept(int capacity)
    {
        private int _last = -1;
        public List<ChartPoint> Points { get; } = new(capacity);

        public void Add(ReadOnlySpan<ChartPoint> points, int index)
        {
            if (index <= _last) return;
            Points.Add(points[index]);
            _last = index;
        }

        /// <summary>A range's minimum and maximum (-1: none), the earlier first.</summary>
        public void AddInOrder(ReadOnlySpan<ChartPoint> points, int min, int max)
        {
            if (min < 0) return;
            Add(points, Math.Min(min, max));
            Add(points, Math.Max(min, max));
        }
    }

    internal static bool Keeps(ChartPoint p, bool positiveX, bool positiveY) => (!positiveX || p.X > 0) && (!positiveY || p.Y > 0);

    /// <summary>The first lowest and first highest point of a range, scanned in x order (NaN never wins).</summary>
    internal struct Extremes()
    {
        public int Min = -1, Max = -1;
        private double _minY = double.PositiveInfinity, _maxY = double.NegativeInfinity;

        public void Scan(ReadOnlySpan<ChartPoint> points, int from, int to, bool positiveX, bool positiveY)
        {
            var filter = positiveX || positiveY;
            for (var i = from; i < to; i++)
            {
                var p = points[i];
                if (filter && !Keeps(p, positiveX, positiveY)) continue;
                var y = p.Y;
                if (y < _minY) { _minY = y; Min = i; }
                if (y > _maxY) { _maxY = y; Max = i; }
            }
        }

        /// <summary>A later range's own extremes (indices into the same points, -1 for none): the same outcome as scanning it.</summary>
        public void Offer(ReadOnlySpan<ChartPoint> points, int min, int max)
        {
            if (min >= 0 && points[min].Y < _minY) { _minY = points[min].Y; Min = min; }
            if (max >= 0 && points[max].Y > _maxY) { _maxY = points[max].Y; Max = max; }
        }
    }

    /// <summary>The index range of the points whose x lies in [from, to], plus one neighbour either side so the line reaches the edges.</summary>
    public static (int Start, int End) Window(ReadOnlySpan<ChartPoint> points, double from, double to)
    {
        var first = LowerBound(points, from);
        var last = LowerBound(points, to);
        if (last < points.Length && points[last].X <= to) last++;
        return (Math.Max(0, first - 1), Math.Min(points.Length, last + 1));
    }

    /// <summary>The point whose x is nearest to <paramref name="x"/> (points sorted by x, not empty).</summary>
    public static ChartPoint Nearest(ReadOnlySpan<ChartPoint> points, double x)
    {
        var i = Math.Min(LowerBound(points, x), points.Length - 1);
        return i > 0 && Math.Abs(points[i - 1].X - x) < Math.Abs(points[i].X - x) ? points[i - 1] : points[i];
    }

    private static int LowerBound(ReadOnlySpan<ChartPoint> points, double x)
    {
        int lo = 0, hi = points.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (points[mid].X < x) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    /// <summary>Maps a value to 0…1 of an axis, linear or log10.</summary>
    public static double Normalize(double value, double min, double max, bool log)
    {
        if (log)
        {
            value = Math.Log10(value);
            min = Math.Log10(min);
            max = Math.Log10(max);
        }
        return max > min ? (value - min) / (max - min) : 0.5;
    }

    /// <summary>The inverse of <see cref="Normalize"/>.</summary>
    public static double Denormalize(double fraction, double min, double max, bool log) => log
        ? Math.Pow(10, Math.Log10(min) + fraction * (Math.Log10(max) - Math.Log10(min)))
        : min + fraction * (max - min);

    /// <summary>About <paramref name="count"/> round tick values (1, 2, 5 × 10ⁿ) in [min, max]; decades on a log axis.</summary>
    public static List<double> Ticks(double min, double max, bool log, int count = 5)
    {
        var ticks = new List<double>();
        if (!(max > min) || !double.IsFinite(min) || !double.IsFinite(max))
        {
            if (double.IsFinite(min)) ticks.Add(min);
            return ticks;
        }
        if (log && min > 0)
        {
            var lo = Math.Floor(Math.Log10(min));
            var hi = Math.Ceiling(Math.Log10(max));
            var perDecade = hi - lo <= 1 ? new[] { 1.0, 2, 5 } : new[] { 1.0 };
            for (var e = lo; e <= hi; e++)
            {
                foreach (var m in perDecade)
                {
                    var v = m * Math.Pow(10, e);
                    if (v >= min * 0.999 && v <= max * 1.001) ticks.Add(v);
                }
            }
            if (ticks.Count >= 2) return ticks;
            ticks.Clear();
        }
        var step = NiceStep((max - min) / Math.Max(1, count));
        if (!(step > 0) || !double.IsFinite(step))
        {
            return [min, max];
        }
        var first = Math.Ceiling(min / step);
        // Index-based, capped: adding a step too small for the magnitude must not loop forever.
        for (var i = 0; i <= 4 * count + 2; i++)
        {
            var v = (first + i) * step;
            if (v > max + step * 1e-9) break;
            ticks.Add(Math.Abs(v) < step * 1e-9 ? 0 : v);
        }
        return ticks;
    }

    private static double NiceStep(double raw)
    {
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var residual = raw / magnitude;
        return magnitude * (residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 5 ? 5 : 10);
    }

    /// <summary>A tick label with as many decimals as the spacing between ticks needs (250.2, 250.4 — not 250, 250).</summary>
    public static string FormatTick(double value, double spacing)
    {
        if (Math.Abs(value) >= 1e4 || !(spacing > 0) || spacing >= 1 || value == 0)
        {
            return Format(value);
        }
        var decimals = 0;
        while (decimals < 8 && Math.Abs(Math.Round(spacing, decimals) - spacing) > spacing * 1e-6)
        {
            decimals++; // 0.25 → 2, 0.2 → 1
        }
        return Math.Abs(value) < 1e-3 ? Format(value) : value.ToString("F" + decimals, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Short labels: 12.5k, 3.2M, 0.0031, 2.41.</summary>
    public static string Format(double value)
    {
        var abs = Math.Abs(value);
        return abs switch
        {
            0 => "0",
            >= 1e9 => (value / 1e9).ToString("0.##") + "G",
            >= 1e6 => (value / 1e6).ToString("0.##") + "M",
            >= 1e4 => (value / 1e3).ToString("0.#") + "k",
            >= 100 => value.ToString("0"),
            >= 1 => value.ToString("0.###"),
            >= 1e-3 => value.ToString("0.####"),
            _ => value.ToString("0.##e0"),
        };
    }
}

/// <summary>
/// The first lowest and first highest point of every whole block of <see cref="Size"/> consecutive points of a growing
/// series (indices; -1 where a block has none the filter keeps), extended as points are appended. A live chart
/// downsamples its whole series about once a second; with these a bucket reads at most two blocks' points and one
/// summary per block in between, instead of every point of a long run.
/// </summary>
public sealed class BlockExtremes(bool positiveX, bool positiveY)
{
    public const int Size = 32;
    private readonly List<(int Min, int Max)> _blocks = [];

    public bool PositiveX { get; } = positiveX;
    public bool PositiveY { get; } = positiveY;

    /// <summary>How many points the summary covers (whole blocks only).</summary>
    public int Covered => _blocks.Count * Size;

    public (int Min, int Max) this[int block] => _blocks[block];

    /// <summary>Summarizes the new whole blocks of <paramref name="points"/>, the same points as before plus any appended.</summary>
    public void Extend(ReadOnlySpan<ChartPoint> points)
    {
        while (Covered + Size <= points.Length)
        {
            var extremes = new ChartMath.Extremes();
            extremes.Scan(points, Covered, Covered + Size, PositiveX, PositiveY);
            _blocks.Add((extremes.Min, extremes.Max));
        }
    }

    private readonly List<(int Min, int Max)> _buckets = [];
    private int _blocksPerBucket;

    /// <summary>
    /// The extremes of every full run of <paramref name="perBucket"/> blocks (see <see cref="ChartMath.DownsampleWhole"/>),
    /// kept until the bucket size changes: a growing series adds a bucket every <paramref name="perBucket"/> blocks.
    /// </summary>
    public IReadOnlyList<(int Min, int Max)> Buckets(ReadOnlySpan<ChartPoint> points, int perBucket)
    {
        if (perBucket != _blocksPerBucket)
        {
            _buckets.Clear();
            _blocksPerBucket = perBucket;
        }
        while ((_buckets.Count + 1) * perBucket <= _blocks.Count)
        {
            var extremes = new ChartMath.Extremes();
            for (var k = _buckets.Count * perBucket; k < (_buckets.Count + 1) * perBucket; k++)
            {
                extremes.Offer(points, _blocks[k].Min, _blocks[k].Max);
            }
            _buckets.Add((extremes.Min, extremes.Max));
        }
        return _buckets;
    }

    /// <summary>The blocks [first, last) that lie wholly inside [from, to) and are summarized.</summary>
    public (int First, int Last) Whole(int from, int to) => ((from + Size - 1) / Size, Math.Min(to, Covered) / Size);
}
