using System.Globalization;
using WebLlm.Training.Benchmarks;

namespace WebLlm.Bench;

/// <summary>Render time of the run page's four live charts at one run length: the median and the range over the renders measured.</summary>
public sealed record ChartRenderResult(int Steps, int Renders, double MedianMs, double MinMs, double MaxMs);

/// <summary>
/// How a live render of the charts grows with the run's length: the chart bench page (<c>/dev/chart-bench</c>: the
/// run page's four charts over a synthetic run, growing by 20 steps a second like a tiny run) in headless Chromium at
/// several lengths, with the page's own render timing (from the page's ShouldRender to its OnAfterRender: the charts'
/// downsampling, SVG paths, Blazor's diff and the DOM update). Nothing trains meanwhile.
/// </summary>
internal static class ChartRender
{
    public static async Task<List<ChartRenderResult>> RunAsync(IReadOnlyList<int> lengths, TimeSpan perLength, Action<string> log)
    {
        string dir = Directory.CreateTempSubdirectory("webllm-chart-render-").FullName;
        var results = new List<ChartRenderResult>();
        try
        {
            await using var server = await BenchServer.StartAsync(dir, documents: 200, threads: "1");
            var page = await server.NewPageAsync();
            foreach (int steps in lengths)
            {
                await page.GotoAsync(new Uri(server.BaseUri, $"dev/chart-bench?steps={steps}&grow=2").ToString());
                var readout = page.Locator("[data-testid=bench-render-ms]");
                // The first renders build every series and smoothing from scratch; a live page extends them.
                await page.WaitForFunctionAsync("() => Number(document.querySelector('[data-testid=bench-render-ms]')?.dataset.renders ?? 0) >= 4",
                    null, new() { Timeout = 120_000, PollingInterval = 100 });
                var ms = new List<double>();
                string? seen = null;
                var until = DateTime.UtcNow + perLength;
                while (DateTime.UtcNow < until)
                {
                    string? renders = await readout.GetAttributeAsync("data-renders");
                    if (renders != seen)
                    {
                        seen = renders;
                        ms.Add(double.Parse((await readout.GetAttributeAsync("data-render-ms"))!, CultureInfo.InvariantCulture));
                    }
                    await Task.Delay(50);
                }
                var r = new ChartRenderResult(steps, ms.Count, Stats.Median(ms), ms.Min(), ms.Max());
                results.Add(r);
                log($"chart render at {steps:N0} steps: median {r.MedianMs:F1} ms over {r.Renders} renders ({r.MinMs:F1}–{r.MaxMs:F1})");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
        return results;
    }
}
