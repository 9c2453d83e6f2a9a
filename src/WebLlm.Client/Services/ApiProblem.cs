using System.Net;
using System.Text.Json;

namespace WebLlm.Client.Services;

/// <summary>
/// A server error read from RFC 9457 ProblemDetails: the stable <c>code</c> extension and, for a
/// ValidationProblemDetails, the messages per request field (camelCase names such as <c>nHead</c>).
/// </summary>
public sealed class ApiProblem(
    HttpStatusCode status, string? code, string title, string? detail, IReadOnlyDictionary<string, string[]> fieldErrors)
    : Exception(detail ?? title)
{
    public HttpStatusCode Status { get; } = status;
    public string? Code { get; } = code;
    public string Title { get; } = title;
    public string? Detail { get; } = detail;
    public IReadOnlyDictionary<string, string[]> FieldErrors { get; } = fieldErrors;

    /// <summary>One line for a snackbar or an alert.</summary>
    public string Summary => Detail is { Length: > 0 } d && d != Title ? $"{Title}: {d}" : Title;

    public static async Task<ApiProblem> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken = default)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        return Parse(response.StatusCode, body, response.ReasonPhrase);
    }

    public static ApiProblem Parse(HttpStatusCode status, string body, string? reason = null)
    {
        var fallbackTitle = reason is { Length: > 0 } ? reason : $"HTTP {(int)status}";
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new ApiProblem(status, null, fallbackTitle, null, Empty);
            }
            var fields = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase);
            if (root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object)
            {
                foreach (var field in errors.EnumerateObject())
                {
                    fields[field.Name] = field.Value.ValueKind == JsonValueKind.Array
                        ? [.. field.Value.EnumerateArray().Select(e => e.ToString())]
                        : [field.Value.ToString()];
                }
            }
            return new ApiProblem(status, StringOf(root, "code"), StringOf(root, "title") ?? fallbackTitle, StringOf(root, "detail"), fields);
        }
        catch (JsonException)
        {
            return new ApiProblem(status, null, fallbackTitle, body.Length is > 0 and < 300 ? body : null, Empty);
        }
    }

    private static readonly IReadOnlyDictionary<string, string[]> Empty = new Dictionary<string, string[]>();

    private static string? StringOf(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
