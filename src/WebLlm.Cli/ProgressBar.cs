using System.Diagnostics;

namespace WebLlm.Cli;

/// <summary>
/// A one-line progress bar with ETA on stderr, drawn only on a terminal so logs and pipes get clean
/// output. Lines printed to stdout go above it: call <see cref="Clear"/> before writing them.
/// </summary>
internal sealed class ProgressBar : IDisposable
{
    private readonly bool enabled = !Console.IsErrorRedirected;
    private readonly Stopwatch sinceStart = Stopwatch.StartNew();
    private readonly Stopwatch sinceDraw = Stopwatch.StartNew();
    private string phase = "";
    private long phaseStartDone;
    private TimeSpan phaseStart;
    private bool drawn;

    public void Update(string label, long done, long total, bool force = false)
    {
        if (!enabled || total <= 0) return;
        if (label != phase)
        {
            phase = label;
            phaseStart = sinceStart.Elapsed;
            phaseStartDone = done;
        }
        if (!force && drawn && sinceDraw.ElapsedMilliseconds < 100 && done < total) return;
        sinceDraw.Restart();
        double fraction = Math.Clamp((double)done / total, 0, 1);
        const int width = 30;
        int filled = (int)Math.Round(fraction * width);
        string eta = "";
        double elapsed = (sinceStart.Elapsed - phaseStart).TotalSeconds;
        if (done > phaseStartDone && elapsed > 0.5)
        {
            double remaining = (total - done) * elapsed / (done - phaseStartDone);
            eta = " ETA " + Format(TimeSpan.FromSeconds(remaining));
        }
        Console.Error.Write($"\r\x1b[K{label} [{new string('#', filled)}{new string('-', width - filled)}] {fraction,4:P0} {done:N0}/{total:N0}{eta}");
        drawn = true;
    }

    public void Clear()
    {
        if (!enabled || !drawn) return;
        Console.Error.Write("\r\x1b[K");
        drawn = false;
    }

    public void Dispose() => Clear();

    public static string Format(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : t.TotalMinutes >= 1 ? $"{t.Minutes}m{t.Seconds:D2}s" : $"{t.TotalSeconds:F0}s";
}
