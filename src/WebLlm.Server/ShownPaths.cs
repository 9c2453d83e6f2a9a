using System.Text.RegularExpressions;

namespace WebLlm.Server;

/// <summary>
/// A run's status reason is shown to every client, and exception messages name files. Paths under the data
/// directory become <c>&lt;data&gt;/…</c> (which file is useful to know); any other absolute path becomes
/// <c>&lt;path&gt;</c>, since it says where the server is installed. The full text stays in the server's log.
/// </summary>
public static partial class ShownPaths
{
    public static string Redact(string message, string dataDirectory)
    {
        string shown = message.Replace(Path.GetFullPath(dataDirectory).TrimEnd(Path.DirectorySeparatorChar), "<data>", StringComparison.Ordinal);
        return AbsolutePath().Replace(shown, "<path>");
    }

    /// <summary>A Unix path after a space, quote, bracket or '=' (not the '//' of a URL), or a Windows drive path.</summary>
    [GeneratedRegex("""(?<=^|[\s'"(\[=])(/[^\s'"()\[\],;]+|[A-Za-z]:\\[^\s'"()\[\],;]*)""")]
    private static partial Regex AbsolutePath();
}
