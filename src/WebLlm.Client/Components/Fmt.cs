using MudBlazor;
using WebLlm.Contracts;

namespace WebLlm.Client.Components;

/// <summary>How numbers, durations and statuses read in the UI.</summary>
public static class Fmt
{
    public static string Loss(double? value) => value is { } v ? v.ToString("0.0000") : "—";

    public static string Number(double? value) => value is { } v ? Charts.ChartMath.Format(v) : "—";

    public static string Count(long value) => value switch
    {
        >= 1_000_000_000 => $"{value / 1e9:0.##}B",
        >= 1_000_000 => $"{value / 1e6:0.##}M",
        >= 10_000 => $"{value / 1e3:0.#}k",
        _ => value.ToString("N0"),
    };

    public static string Bytes(double bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (1L << 30):0.##} GiB",
        >= 1L << 20 => $"{bytes / (1L << 20):0.#} MiB",
        >= 1L << 10 => $"{bytes / (1L << 10):0.#} KiB",
        _ => $"{bytes:0} B",
    };

    public static string Duration(double? seconds)
    {
        if (seconds is not { } s || !double.IsFinite(s) || s < 0) return "—";
        var t = TimeSpan.FromSeconds(s);
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours}h {t.Minutes:00}m" : t.TotalMinutes >= 1 ? $"{t.Minutes}m {t.Seconds:00}s" : $"{s:0.#}s";
    }

    public static string Percent(double? fraction) => fraction is { } f ? $"{f * 100:0.#}%" : "—";

    public static string When(DateTime? utc) => utc is { } u ? u.ToLocalTime().ToString("yyyy-MM-dd HH:mm") : "—";

    public static Color StatusColor(RunStatus status) => status switch
    {
        RunStatus.Running => Color.Success,
        RunStatus.Queued => Color.Info,
        RunStatus.Paused => Color.Warning,
        RunStatus.Completed => Color.Primary,
        RunStatus.Failed => Color.Error,
        RunStatus.Interrupted => Color.Secondary,
        _ => Color.Default,
    };

    public static Color DatasetColor(DatasetStatus status) => status switch
    {
        DatasetStatus.Ready => Color.Success,
        DatasetStatus.Failed => Color.Error,
        _ => Color.Info,
    };
}
