using Bunit;
using WebLlm.Client.Charts;

namespace WebLlm.Client.Tests;

public class LineChartTests : ClientTestContext
{
    private static ChartSeries Series(int n) =>
        new("train", "#000", [.. Enumerable.Range(1, n).Select(i => new ChartPoint(i, i == n / 2 ? 100 : 2 + (i % 7) * 0.01))]);

    private static int Vertices(string path) => path.Count(c => c is 'M' or 'L');

    [Fact]
    public void Fifty_thousand_points_render_as_a_bounded_path_that_keeps_the_spike()
    {
        var chart = Render<LineChart>(p => p.Add(c => c.Title, "Loss").Add(c => c.Series, [Series(50_000)]).Add(c => c.Buckets, 300));

        Assert.Equal("50000", chart.Find("[data-testid=chart]").GetAttribute("data-points"));
        var path = chart.Find("path.wl-line").GetAttribute("d")!;
        Assert.InRange(Vertices(path), 300, 602);
        var ys = path.Split('M', 'L').Where(v => v.Length > 0).Select(v => double.Parse(v.Split(',')[1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(ys.Min() < 60, "the one-step spike reaches the top of the plot"); // 0 is the top edge, 1000 the bottom
    }

    [Fact]
    public void Smoothing_draws_a_faint_raw_line_under_the_smoothed_one()
    {
        var chart = Render<LineChart>(p => p.Add(c => c.Title, "Loss").Add(c => c.Series, [Series(1000)]).Add(c => c.Smoothing, 0.9));
        Assert.Single(chart.FindAll("path.wl-raw"));
        Assert.Equal(2, chart.FindAll("path.wl-line").Count);
    }

    [Fact]
    public void Dragging_across_columns_zooms_and_reset_restores()
    {
        var chart = Render<LineChart>(p => p.Add(c => c.Title, "Loss").Add(c => c.Series, [Series(1000)]));
        var columns = chart.FindAll(".wl-overlay > div");
        Assert.Equal(LineChart.Columns, columns.Count);

        columns[10].MouseDown();
        chart.FindAll(".wl-overlay > div")[19].MouseOver();
        chart.FindAll(".wl-overlay > div")[19].MouseUp();

        var zoom = chart.Instance.Zoom;
        Assert.NotNull(zoom);
        Assert.InRange(zoom.Value.From, 90, 120);
        Assert.InRange(zoom.Value.To, 190, 215);

        chart.Find("[data-testid=chart-reset]").Click();
        Assert.Null(chart.Instance.Zoom);
    }

    [Fact]
    public void A_live_series_redraws_when_it_grows_or_a_setting_changes_and_not_otherwise()
    {
        var points = new List<ChartPoint> { new(1, 2), new(2, 1.5) };
        var chart = Render<LineChart>(p => p.Add(c => c.Title, "Loss").Add(c => c.Series, [new ChartSeries("train", "#000", points)]));
        var path = chart.Find("path.wl-line").GetAttribute("d");
        var renders = chart.RenderCount;

        // A parent re-rendering with the same data (a push for another region): the chart does not redraw.
        chart.Render(p => p.Add(c => c.Series, [new ChartSeries("train", "#000", points)]));
        Assert.Equal(renders, chart.RenderCount);

        // The same list grown in place, as the store does: new points, new last x.
        points.Add(new(3, 1.2));
        chart.Render(p => p.Add(c => c.Series, [new ChartSeries("train", "#000", points) { Version = 1 }]));
        Assert.Equal("3", chart.Find("[data-testid=chart]").GetAttribute("data-points"));
        Assert.Equal("3", chart.Find("[data-testid=chart]").GetAttribute("data-last-x"));
        Assert.NotEqual(path, chart.Find("path.wl-line").GetAttribute("d"));

        // The last point rewritten in place (a resume replays a step): same count, new value, redrawn.
        path = chart.Find("path.wl-line").GetAttribute("d");
        points[^1] = new(3, 1.9);
        chart.Render(p => p.Add(c => c.Series, [new ChartSeries("train", "#000", points) { Version = 1 }]));
        Assert.NotEqual(path, chart.Find("path.wl-line").GetAttribute("d"));

        // A setting alone redraws too.
        path = chart.Find("path.wl-line").GetAttribute("d");
        chart.Render(p => p.Add(c => c.Series, [new ChartSeries("train", "#000", points) { Version = 1 }]).Add(c => c.LogY, true));
        Assert.Equal("true", chart.Find("[data-testid=chart]").GetAttribute("data-log-y"));
        Assert.NotEqual(path, chart.Find("path.wl-line").GetAttribute("d"));
    }

    [Fact]
    public void Log_y_drops_non_positive_values_instead_of_failing()
    {
        var series = new ChartSeries("lr", "#000", [new(1, 0), new(2, 1e-4), new(3, 1e-3)]);
        var chart = Render<LineChart>(p => p.Add(c => c.Title, "LR").Add(c => c.Series, [series]).Add(c => c.LogY, true));
        Assert.Equal("2", chart.Find("[data-testid=chart]").GetAttribute("data-points"));
    }
}
