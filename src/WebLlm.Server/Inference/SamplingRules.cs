namespace WebLlm.Server.Inference;

/// <summary>
/// The range checks both APIs share, each returning the problem or null; the caller names the field in its own
/// spelling (camelCase on /api, snake_case on /v1).
/// </summary>
public static class SamplingRules
{
    public const int MaxTokensLimit = 4096;
    public const int MaxN = 16;
    public const int MaxTopLogProbs = 20;
    public const int MaxTopK = 1_000_000;

    public static string? MaxTokens(int? n, string field) =>
        n is int v && (v < 1 || v > MaxTokensLimit) ? $"{field} must be between 1 and {MaxTokensLimit} (got {v})" : null;

    public static string? Temperature(double? t, double max, string field) =>
        t is double v && (!double.IsFinite(v) || v < 0 || v > max) ? $"{field} must be between 0 and {max} (got {v})" : null;

    public static string? TopK(int? k, string field) =>
        k is int v && (v < 0 || v > MaxTopK) ? $"{field} must be 0 (off) or between 1 and {MaxTopK} (got {v})" : null;

    public static string? TopP(double? p, string field) =>
        p is double v && (!double.IsFinite(v) || v <= 0 || v > 1) ? $"{field} must be in (0, 1] (got {v})" : null;

    public static string? Stop(IReadOnlyList<string>? stop, int max, string field) =>
        stop is null ? null
        : stop.Count > max ? $"{field} takes at most {max} strings (got {stop.Count})"
        : stop.Any(string.IsNullOrEmpty) ? $"{field} strings must not be empty"
        : null;

    public static string? N(int? n, string field) =>
        n is int v && (v < 1 || v > MaxN) ? $"{field} must be between 1 and {MaxN} (got {v})" : null;

    public static string? TopLogProbs(int? n, string field) =>
        n is int v && (v < 0 || v > MaxTopLogProbs) ? $"{field} must be between 0 and {MaxTopLogProbs} (got {v})" : null;

    public static string? Prompt(string? prompt, string field) =>
        string.IsNullOrEmpty(prompt) ? $"{field} must not be empty" : null;
}
