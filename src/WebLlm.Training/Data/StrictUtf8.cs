using System.Buffers;
using System.Text.Unicode;

namespace WebLlm.Training.Data;

/// <summary>
/// Decodes UTF-8 refusing invalid bytes: a replacement character silently trained on is worse than an
/// error that points at the byte.
/// </summary>
public static class StrictUtf8
{
    private static ReadOnlySpan<byte> Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>Decodes <paramref name="bytes"/>, dropping a leading BOM.</summary>
    /// <exception cref="InvalidTextException">With <paramref name="path"/> and the offset of the first bad byte.</exception>
    public static string Decode(ReadOnlySpan<byte> bytes, string path)
    {
        var start = bytes.StartsWith(Bom) ? Bom.Length : 0;
        var body = bytes[start..];
        // UTF-16 never needs more chars than UTF-8 has bytes.
        var chars = new char[body.Length];
        var status = Utf8.ToUtf16(body, chars, out var bytesRead, out var charsWritten, replaceInvalidSequences: false, isFinalBlock: true);
        if (status != OperationStatus.Done)
        {
            throw new InvalidTextException(path, start + bytesRead, body[bytesRead]);
        }

        return new string(chars, 0, charsWritten);
    }
}
