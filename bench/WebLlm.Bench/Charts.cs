using ScottPlot;
using WebLlm.Training.Benchmarks;

namespace WebLlm.Bench;

/// <summary>The PNG charts linked from docs/PERFORMANCE.md.</summary>
internal static class Charts
{
    private const int Width = 900, Height = 450;

    public static void Size(string path, IReadOnlyList<TrainingBenchResult> results) =>
        LabelledBars(path, results.Select(r => r.Fraction * 100).ToArray(), results.Select(r => $"{r.TokensPerSecond:F0} tok/s").ToArray(),
            results.Select(r => $"{r.Preset}\n{r.Parameters / 1e6:F0}M").ToArray(),
            "Training: share of the measured fp32 matmul ceiling (batch 4, context 64)", "% of ceiling (model FLOPs)", yMax: 100);

    public static void Batch(string path, IReadOnlyList<TrainingBenchResult> tiny, IReadOnlyList<TrainingBenchResult> gpt2)
    {
        var plot = new Plot();
        foreach (var (name, series) in new[] { ("tiny", tiny), ("gpt2", gpt2) })
        {
            var line = plot.Add.Scatter(series.Select(r => (double)r.BatchSize).ToArray(), series.Select(r => r.Fraction * 100).ToArray());
            line.LegendText = name;
            line.LineWidth = 2;
            line.MarkerSize = 8;
        }
        plot.Title("Training: share of the ceiling against batch size (context 64)");
        plot.XLabel("batch size");
        plot.YLabel("% of ceiling");
        plot.Axes.SetLimitsY(0, 100);
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, Width, Height);
    }

    public static void Phases(string path, IReadOnlyList<TrainingBenchResult> results)
    {
        var plot = new Plot();
        string[] names = ["data", "forward", "backward", "clip", "AdamW", "other"];
        var palette = new ScottPlot.Palettes.Category10();
        var stacked = new List<Bar>();
        for (int i = 0; i < results.Count; i++)
        {
            var p = results[i].Phases;
            double[] parts = [p.Data, p.Forward, p.Backward, p.Clip, p.Optimizer, p.Other];
            double total = parts.Sum(), bottom = 0;
            for (int k = 0; k < parts.Length; k++)
            {
                double share = parts[k] / total * 100;
                stacked.Add(new Bar { Position = i, ValueBase = bottom, Value = bottom + share, FillColor = palette.GetColor(k) });
                bottom += share;
            }
        }
        plot.Add.Bars(stacked);
        for (int k = 0; k < names.Length; k++)
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = names[k], FillColor = palette.GetColor(k) });
        plot.ShowLegend(Alignment.UpperRight);
        Labels(plot, results.Select(r => $"{r.Preset}\nbatch {r.BatchSize}").ToArray());
        plot.Title("Where a training step's time goes");
        plot.YLabel("% of step time");
        plot.Axes.SetLimitsY(0, 100);
        plot.SavePng(path, Width, Height);
    }

    public static void Inference(string path, IReadOnlyList<InferenceBenchResult> results)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var bars = new List<Bar>();
        for (int i = 0; i < results.Count; i++)
        {
            bars.Add(new Bar { Position = i * 3, Value = results[i].CeilingTokensPerSecond, FillColor = palette.GetColor(0), Label = $"{results[i].CeilingTokensPerSecond:F0}" });
            bars.Add(new Bar { Position = i * 3 + 1, Value = results[i].DecodeTokensPerSecond, FillColor = palette.GetColor(1), Label = $"{results[i].DecodeTokensPerSecond:F0}" });
        }
        plot.Add.Bars(bars);
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "ceiling: bandwidth / weight bytes", FillColor = palette.GetColor(0) });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "measured decode (KV cache)", FillColor = palette.GetColor(1) });
        plot.ShowLegend(Alignment.UpperRight);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            results.Select((_, i) => i * 3 + 0.5).ToArray(), results.Select(r => r.Preset).ToArray());
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = v => $"{v:F0}" };
        plot.Title("Single-stream decode tokens/s (batch 1)");
        plot.YLabel("tokens/s");
        plot.SavePng(path, Width, Height);
    }

    public static void Memory(string path, MemoryResult m)
    {
        var plot = new Plot();
        var training = plot.Add.Scatter(m.TrainingRss.Select(p => (double)p.X).ToArray(), m.TrainingRss.Select(p => p.Megabytes).ToArray());
        training.LegendText = $"training steps (0 … {m.TrainingSteps})";
        var inference = plot.Add.Scatter(m.InferenceRss.Select(p => (double)p.X * m.TrainingSteps / m.Requests).ToArray(), m.InferenceRss.Select(p => p.Megabytes).ToArray());
        inference.LegendText = $"generations (0 … {m.Requests}, scaled to the same axis)";
        plot.Title("Resident memory after warm-up");
        plot.XLabel("training step");
        plot.YLabel("RSS (MB)");
        double max = m.TrainingRss.Concat(m.InferenceRss).Max(p => p.Megabytes);
        plot.Axes.SetLimitsY(0, max * 1.2);
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, Width, Height);
    }

    /// <summary>Each round's server variants as a share of that round's CLI, the pooled figure last, against the 97% line.</summary>
    public static void Dashboard(string path, DashboardCostResult d)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var bars = new List<Bar>();
        var groups = d.PerRound.Select(r => ($"round {r.Round}", r.ServerRatio, r.Ratio))
            .Append(("median of\nthe rounds", d.RoundServerRatio, d.RoundRatio))
            .Append(("all steps\n(pooled)", d.ServerRatio, d.Ratio)).ToList();
        for (int i = 0; i < groups.Count; i++)
        {
            var (_, alone, watched) = groups[i];
            bars.Add(new Bar { Position = i * 3, Value = alone * 100, FillColor = palette.GetColor(0), Label = $"{alone * 100:F1}" });
            bars.Add(new Bar { Position = i * 3 + 1, Value = watched * 100, FillColor = palette.GetColor(1), Label = $"{watched * 100:F1}" });
        }
        plot.Add.Bars(bars);
        var target = plot.Add.HorizontalLine(97);
        target.LineColor = Colors.Red;
        target.LinePattern = LinePattern.Dashed;
        target.LegendText = "target: 97% of the CLI";
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "server, browser paused", FillColor = palette.GetColor(0) });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "server + Chromium on the run page", FillColor = palette.GetColor(1) });
        plot.ShowLegend(Alignment.UpperRight);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            groups.Select((_, i) => i * 3 + 0.5).ToArray(), groups.Select(g => g.Item1).ToArray());
        plot.Title("The dashboard's cost: training tokens/s as a share of the CLI's (tiny, batch 12)");
        plot.YLabel("% of the CLI's tokens/s");
        plot.Axes.SetLimitsY(0, 140);
        plot.SavePng(path, Width, Height);
    }

    /// <summary>Median render time of the live charts at each run length measured.</summary>
    public static void Render(string path, IReadOnlyList<ChartRenderResult> results) =>
        LabelledBars(path, results.Select(r => r.MedianMs).ToArray(), results.Select(r => $"{r.MedianMs:F1} ms").ToArray(),
            results.Select(r => r.Steps.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) + " steps").ToArray(),
            "One live render of the run page's four charts, against the run's length", "ms per render (median)",
            yMax: Math.Max(10, results.Max(r => r.MedianMs) * 1.3));

    public static void RunOpen(string path, IReadOnlyList<RunOpenResult> results) =>
        LabelledBars(path, results.Select(r => r.MedianSeconds).ToArray(), results.Select(r => $"{r.MedianSeconds:F2} s").ToArray(),
            results.Select(r => r.Steps.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) + " steps").ToArray(),
            "Opening a run's page until its charts hold every step, against the run's length", "seconds (median)",
            yMax: Math.Max(1, results.Max(r => r.MedianSeconds) * 1.3));

    /// <summary>The first load's time until usable per way of serving, with the 5 s target; each bar's label says when the files were in.</summary>
    public static void FirstLoad(string path, IReadOnlyList<FirstLoadResult> results)
    {
        var plot = new Plot();
        var bars = plot.Add.Bars(results.Select(r => r.MedianSeconds).ToArray());
        for (int i = 0; i < results.Count; i++)
            bars.Bars[i].Label = $"{results[i].MedianSeconds:F2} s (files in by {results[i].DownloadedMedianSeconds:F2} s, {results[i].TransferredBytes / 1e6:F1} MB)";
        bars.ValueLabelStyle.FontSize = 13;
        var target = plot.Add.HorizontalLine(5);
        target.LinePattern = LinePattern.Dashed;
        target.LegendText = "target: 5 s";
        Labels(plot, results.Select(r => r.Variant).ToArray());
        plot.Title("First load of the dashboard (empty cache, median; a run trains beside it unless labelled otherwise)");
        plot.YLabel("seconds until usable");
        plot.Axes.SetLimitsY(0, Math.Max(6, results.Max(r => r.MaxSeconds) * 1.25));
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, Width, Height);
    }

    /// <summary>One bar per value, its label above it and its name under it.</summary>
    private static void LabelledBars(string path, double[] values, string[] valueLabels, string[] names, string title, string yLabel, double yMax)
    {
        var plot = new Plot();
        var bars = plot.Add.Bars(values);
        for (int i = 0; i < values.Length; i++) bars.Bars[i].Label = valueLabels[i];
        bars.ValueLabelStyle.FontSize = 14;
        Labels(plot, names);
        plot.Title(title);
        plot.YLabel(yLabel);
        plot.Axes.SetLimitsY(0, yMax);
        plot.SavePng(path, Width, Height);
    }

    private static void Labels(Plot plot, string[] labels) =>
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(Enumerable.Range(0, labels.Length).Select(i => (double)i).ToArray(), labels);
}
