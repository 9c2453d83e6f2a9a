using System.Diagnostics;
using Microsoft.Extensions.Options;
using WebLlm.Contracts;

using WebLlm.Server.Runs;

namespace WebLlm.Server.Live;

/// <summary>
/// While a run trains, samples this process's CPU use (share of all cores since the last sample), resident
/// memory and GC heap every few seconds, and stores/pushes them as the run's system metrics. GPU fields stay
/// null: the CPU build has no device to ask.
/// </summary>
public sealed class SystemSampler(TrainingService training, MetricWriter writer, IOptions<WebLlmOptions> options) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(0.1, options.Value.SystemSampleSeconds)));
        using var process = Process.GetCurrentProcess();
        var lastCpu = process.TotalProcessorTime;
        var lastWall = Stopwatch.GetTimestamp();
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                process.Refresh();
                var cpu = process.TotalProcessorTime;
                var wall = Stopwatch.GetElapsedTime(lastWall);
                double percent = 100 * (cpu - lastCpu).TotalSeconds / Math.Max(1e-9, wall.TotalSeconds) / Environment.ProcessorCount;
                lastCpu = cpu;
                lastWall = Stopwatch.GetTimestamp();
                if (training.CurrentRunId is not int runId) continue;
                writer.Post(new SystemEvent(runId, new SystemMetricDto(DateTime.UtcNow, Math.Round(percent, 1), process.WorkingSet64, GC.GetTotalMemory(false), null, null)));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
