namespace WebLlm.Client.Charts;

/// <summary>One axis of a plot: maps a value to 0…1 (linear or log10), with the logarithms of its ends taken once.</summary>
public readonly struct AxisScale
{
    private readonly double _min, _span;
    private readonly bool _log;

    public AxisScale(double min, double max, bool log)
    {
        _log = log;
        if (log)
        {
            min = Math.Log10(min);
            max = Math.Log10(max);
        }
        _min = min;
        _span = max > min ? max - min : 0;
    }

    /// <summary>The same as <see cref="ChartMath.Normalize"/> for this axis.</summary>
    public double Unit(double value)
    {
        if (_span == 0) return 0.5;
        return ((_log ? Math.Log10(value) : value) - _min) / _span;
    }
}

/// <summary>
/// SVG path data for a chart's 0…1000 view box, written digit by digit with one decimal. The charts redraw their
/// paths about once a second while a run trains, and in the browser's WebAssembly interpreter formatting a double
/// with a format string costs microseconds: four charts' paths took 80–90% of a run page render. Tenths of a
/// view-box unit are far below a pixel.
/// </summary>
public static class SvgPath
{
    private const int MaxCharsPerPoint = 2 * 9 + 6; // "M" x "," y "l0,0", each coordinate at most 9 chars once clamped

    /// <summary>
    /// A polyline through the points ("M x,y L x,y …"), or with <paramref name="markers"/> a dot at each point
    /// ("M x,y l0,0", drawn by a round line cap). A non-finite y leaves a gap.
    /// </summary>
    public static string Build(ReadOnlySpan<ChartPoint> points, AxisScale x, AxisScale y, bool markers = false)
    {
        var buffer = new char[points.Length * MaxCharsPerPoint];
        var at = 0;
        var pen = false;
        for (var i = 0; i < points.Length; i++)
        {
            var p = points[i];
            if (!double.IsFinite(p.Y))
            {
                pen = false;
                continue;
            }
            buffer[at++] = markers || !pen ? 'M' : 'L';
            Tenths(buffer, ref at, x.Unit(p.X) * 1000);
            buffer[at++] = ',';
            Tenths(buffer, ref at, 1000 - y.Unit(p.Y) * 1000);
            if (markers)
            {
                buffer[at++] = 'l';
                buffer[at++] = '0';
                buffer[at++] = ',';
                buffer[at++] = '0';
            }
            pen = true;
        }
        return new string(buffer, 0, at);
    }

    /// <summary>
    /// One coordinate written as in a path (one decimal at most), for a chart's grid lines and the CSS positions of its
    /// labels: about thirty a chart at every redraw, where <c>ToString("0.#")</c> costs the interpreter tens of
    /// microseconds each.
    /// </summary>
    public static string Number(double value)
    {
        var buffer = new char[MaxCharsPerPoint];
        var at = 0;
        Tenths(buffer, ref at, value);
        return new string(buffer, 0, at);
    }

    /// <summary>
    /// Writes <paramref name="value"/> rounded (half away from zero) to one decimal ("12.3", "-4", "0.5"), clamped to
    /// ±1,000,000 (NaN as 0), with integer arithmetic rather than formatting or rounding calls.
    /// </summary>
    private static void Tenths(char[] buffer, ref int at, double value)
    {
        if (double.IsNaN(value)) value = 0;
        else if (value > 1e6) value = 1e6;
        else if (value < -1e6) value = -1e6;
        var tenths = value < 0 ? -(int)(-value * 10 + 0.5) : (int)(value * 10 + 0.5);
        if (tenths < 0)
        {
            buffer[at++] = '-';
            tenths = -tenths;
        }
        var whole = tenths / 10;
        var digits = whole < 10 ? 1 : whole < 100 ? 2 : whole < 1000 ? 3 : whole < 10000 ? 4 : whole < 100000 ? 5 : whole < 1000000 ? 6 : 7;
        var end = at + digits;
        for (var i = end - 1; i >= at; i--)
        {
            buffer[i] = (char)('0' + whole % 10);
            whole /= 10;
        }
        at = end;
        var fraction = tenths % 10;
        if (fraction != 0)
        {
            buffer[at++] = '.';
            buffer[at++] = (char)('0' + fraction);
        }
    }
}
