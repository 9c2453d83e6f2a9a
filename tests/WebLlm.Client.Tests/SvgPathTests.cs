using System.Globalization;
using WebLlm.Client.Charts;

namespace WebLlm.Client.Tests;

public class SvgPathTests
{
    private static readonly AxisScale Unit = new(0, 1, log: false);

    [Fact]
    public void Writes_view_box_coordinates_with_one_decimal_and_y_pointing_down()
    {
        var path = SvgPath.Build([new(0, 0), new(0.5, 1), new(0.12345, 0.98765), new(1, 0.5), new(-0.00001, 1.0000001)], Unit, Unit);

        Assert.Equal("M0,1000L500,0L123.5,12.4L1000,500L0,0", path);
    }

    [Fact]
    public void Matches_number_formatting_for_random_points_including_outside_the_view_box()
    {
        var random = new Random(7);
        var points = Enumerable.Range(0, 500).Select(_ => new ChartPoint(random.NextDouble() * 3 - 1, random.NextDouble() * 3 - 1)).ToArray();

        var coordinates = SvgPath.Build(points, Unit, Unit).Split('M', 'L', ',').Where(s => s.Length > 0)
            .Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToList();

        var expected = points.SelectMany(p => new[] { p.X * 1000, 1000 - p.Y * 1000 }).ToList();
        Assert.Equal(expected.Count, coordinates.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(Math.Round(expected[i], 1, MidpointRounding.AwayFromZero), coordinates[i], 6);
        }
    }

    [Fact]
    public void A_non_finite_value_leaves_a_gap_and_markers_are_dots()
    {
        Assert.Equal("M0,1000L100,900M300,700", SvgPath.Build([new(0, 0), new(0.1, 0.1), new(0.2, double.NaN), new(0.3, 0.3)], Unit, Unit));
        Assert.Equal("M0,1000l0,0M1000,0l0,0", SvgPath.Build([new(0, 0), new(1, 1)], Unit, Unit, markers: true));
    }

    [Fact]
    public void Scales_like_normalize_on_linear_and_log_axes()
    {
        var x = new AxisScale(10, 1000, log: true);
        var y = new AxisScale(-2, 6, log: false);
        foreach (var (vx, vy) in new[] { (10.0, -2.0), (31.6, 0.0), (100.0, 2.0), (999.0, 6.0) })
        {
            Assert.Equal(ChartMath.Normalize(vx, 10, 1000, log: true), x.Unit(vx), 12);
            Assert.Equal(ChartMath.Normalize(vy, -2, 6, log: false), y.Unit(vy), 12);
        }
        Assert.Equal(0.5, new AxisScale(3, 3, log: false).Unit(3)); // a flat axis puts everything in the middle
    }

    [Theory]
    [InlineData(0.0, "0")]
    [InlineData(12.34, "12.3")]
    [InlineData(12.25, "12.3")]
    [InlineData(-4.04, "-4")]
    [InlineData(-0.04, "0")]
    [InlineData(99.96, "100")]
    [InlineData(1e300, "1000000")]
    [InlineData(double.NaN, "0")]
    public void Single_numbers_are_written_like_path_coordinates(double value, string expected) =>
        Assert.Equal(expected, SvgPath.Number(value));

    [Fact]
    public void Single_numbers_match_number_formatting_to_a_tenth()
    {
        var random = new Random(3);
        for (var i = 0; i < 1000; i++)
        {
            var value = (random.NextDouble() - 0.3) * Math.Pow(10, random.Next(5));
            Assert.Equal(Math.Round(value, 1, MidpointRounding.AwayFromZero), double.Parse(SvgPath.Number(value), CultureInfo.InvariantCulture), 6);
        }
    }

    [Fact]
    public void Huge_and_infinite_coordinates_are_clamped_instead_of_overflowing()
    {
        var path = SvgPath.Build([new(1e300, 0), new(double.PositiveInfinity, 0.5)], Unit, Unit);

        Assert.Equal("M1000000,1000L1000000,500", path);
    }
}
