using System.Text;

namespace WebLlm.Training.External;

/// <summary>
/// Reads the complete lines appended to a growing log file since the last call, like <c>tail -F</c>:
/// a partial last line (even one cut inside a UTF-8 character) waits for its newline, and a file that
/// shrinks (truncated, or replaced by a restarted run) is read again from the start.
/// </summary>
public sealed class LogFollower(string path)
{
    private long position;
    private byte[] partial = [];

    public string Path { get; } = path;

    /// <summary>New complete lines; empty when there are none or the file does not exist yet.</summary>
    public IReadOnlyList<string> ReadNewLines()
    {
        if (!File.Exists(Path)) return [];
        using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        long length = stream.Length;
        if (length < position)
        {
            position = 0;
            partial = [];
        }
        if (length == position) return [];
        stream.Position = position;
        var fresh = new byte[length - position];
        int read = stream.ReadAtLeast(fresh, fresh.Length, throwOnEndOfStream: false);
        position += read; // only what was read: bytes appended meanwhile are read next time
        var bytes = partial.Concat(fresh.Take(read)).ToArray();
        int end = Array.LastIndexOf(bytes, (byte)'\n');
        if (end < 0)
        {
            partial = bytes;
            return [];
        }
        partial = bytes[(end + 1)..];
        return Encoding.UTF8.GetString(bytes, 0, end).Split('\n')
            .Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();
    }
}
