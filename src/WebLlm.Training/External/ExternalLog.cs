using System.Globalization;
using System.Text.RegularExpressions;

namespace WebLlm.Training.External;

/// <summary>Log formats of training engines whose runs WebLlm can follow.</summary>
public enum ExternalLogFormat
{
    /// <summary>llm.c's main.log: <c>s:N trl:L lr:X norm:G</c>, <c>s:N tel:L</c>, <c>s:N eval:A</c>.</summary>
    LlmC,
    /// <summary>nanoGPT's train.py console: <c>iter N: loss L, time Tms, mfu M%</c> and <c>step N: train loss L, val loss V</c>.</summary>
    NanoGpt,
}

/// <summary>One metric line of an external run.</summary>
public abstract record ExternalRecord(long Step);

public sealed record ExternalTrainStep(long Step, double Loss, double? LearningRate, double? GradNorm, double? Milliseconds, double? Mfu) : ExternalRecord(Step);

public sealed record ExternalValLoss(long Step, double ValLoss, double? TrainLoss) : ExternalRecord(Step);

/// <summary>A benchmark score logged by the engine (llm.c's HellaSwag accuracy).</summary>
public sealed record ExternalEvalScore(long Step, double Score) : ExternalRecord(Step);

/// <summary>
/// Parses log lines of llm.c and nanoGPT into metrics. Lines that are not metrics (samples, banners,
/// checkpoint notices) give null; a metric line with a number that does not parse gives null too, never an
/// exception: logs are written by other programs while we read them, so a half-written line is normal.
/// </summary>
public static partial class ExternalLog
{
    [GeneratedRegex(@"^s:(?<step>\d+) trl:(?<loss>\S+)(?: lr:(?<lr>\S+))?(?: norm:(?<norm>\S+))?\s*$")]
    private static partial Regex LlmCTrain();

    [GeneratedRegex(@"^s:(?<step>\d+) tel:(?<loss>\S+)\s*$")]
    private static partial Regex LlmCVal();

    [GeneratedRegex(@"^s:(?<step>\d+) eval:(?<score>\S+)\s*$")]
    private static partial Regex LlmCEval();

    [GeneratedRegex(@"^iter (?<step>\d+): loss (?<loss>[^,\s]+), time (?<ms>[^m\s]+)ms(?:, mfu (?<mfu>[^%\s]+)%)?\s*$")]
    private static partial Regex NanoGptIter();

    [GeneratedRegex(@"^step (?<step>\d+): train loss (?<train>[^,\s]+), val loss (?<val>\S+)\s*$")]
    private static partial Regex NanoGptEval();

    public static ExternalRecord? Parse(string line, ExternalLogFormat format) => format switch
    {
        ExternalLogFormat.LlmC => ParseLlmC(line),
        ExternalLogFormat.NanoGpt => ParseNanoGpt(line),
        _ => null,
    };

    /// <summary>The format of the first line that is a metric in either format; null if none is.</summary>
    public static ExternalLogFormat? Detect(IEnumerable<string> lines)
    {
        foreach (var line in lines)
        {
            if (ParseLlmC(line) is not null) return ExternalLogFormat.LlmC;
            if (ParseNanoGpt(line) is not null) return ExternalLogFormat.NanoGpt;
        }
        return null;
    }

    private static ExternalRecord? ParseLlmC(string line)
    {
        if (LlmCTrain().Match(line) is { Success: true } t)
            return Long(t, "step") is long s && Num(t, "loss") is double loss
                ? new ExternalTrainStep(s, loss, Num(t, "lr"), Num(t, "norm"), null, null) : null;
        if (LlmCVal().Match(line) is { Success: true } v)
            return Long(v, "step") is long s && Num(v, "loss") is double loss ? new ExternalValLoss(s, loss, null) : null;
        if (LlmCEval().Match(line) is { Success: true } e)
            return Long(e, "step") is long s && Num(e, "score") is double score ? new ExternalEvalScore(s, score) : null;
        return null;
    }

    private static ExternalRecord? ParseNanoGpt(string line)
    {
        if (NanoGptIter().Match(line) is { Success: true } i)
            return Long(i, "step") is long s && Num(i, "loss") is double loss
                ? new ExternalTrainStep(s, loss, null, null, Num(i, "ms"), Num(i, "mfu") / 100) : null;
        if (NanoGptEval().Match(line) is { Success: true } e)
            return Long(e, "step") is long s && Num(e, "val") is double val ? new ExternalValLoss(s, val, Num(e, "train")) : null;
        return null;
    }

    private static long? Long(Match m, string group) =>
        long.TryParse(m.Groups[group].Value, NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : null;

    /// <summary>A number, including "nan" and "inf" as C's printf writes them; null when absent or unparsable.</summary>
    private static double? Num(Match m, string group)
    {
        var g = m.Groups[group];
        if (!g.Success) return null;
        string s = g.Value.ToLowerInvariant();
        if (s is "nan" or "-nan") return double.NaN;
        if (s is "inf" or "+inf") return double.PositiveInfinity;
        if (s is "-inf") return double.NegativeInfinity;
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : null;
    }
}
