using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace WebLlm.Training.Data;

/// <summary>
/// llm.c's token file: 256 little-endian int32 header ([0] magic 20240520, [1] version 1, [2] token count),
/// then the tokens as little-endian uint16. Files written here load in llm.c and vice versa.
/// </summary>
public static class TokenShard
{
    public const int Magic = 20240520;
    public const int Version = 1;
    public const int HeaderInts = 256;
    public const int HeaderBytes = HeaderInts * sizeof(int);

    /// <summary>Writes atomically (temp file + rename).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A token is negative or does not fit in uint16.</exception>
    public static void Write(string path, ReadOnlySpan<int> tokens)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var data = new byte[HeaderBytes + (2 * tokens.Length)];
        var header = MemoryMarshal.Cast<byte, int>(data.AsSpan(0, HeaderBytes));
        header[0] = Magic;
        header[1] = Version;
        header[2] = tokens.Length;
        var body = data.AsSpan(HeaderBytes);
        for (var i = 0; i < tokens.Length; i++)
        {
            if ((uint)tokens[i] > ushort.MaxValue)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[i],
                    $"Token {tokens[i]} at position {i} does not fit the shard format (uint16, 0..65535); {path} was not written.");
            }

            BinaryPrimitives.WriteUInt16LittleEndian(body[(2 * i)..], (ushort)tokens[i]);
        }

        if (!BitConverter.IsLittleEndian)
        {
            for (var i = 0; i < 3; i++)
            {
                header[i] = BinaryPrimitives.ReverseEndianness(header[i]);
            }
        }

        AtomicFile.Write(path, data);
    }

    public static ushort[] Read(string path)
    {
        using var file = File.OpenRead(path);
        var count = ReadHeader(file, path);
        var tokens = new ushort[count];
        file.ReadExactly(MemoryMarshal.AsBytes(tokens.AsSpan()));
        if (!BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.ReverseEndianness(tokens, tokens);
        }

        return tokens;
    }

    /// <summary>Validates the header and the file length without reading the tokens.</summary>
    public static int ReadTokenCount(string path)
    {
        using var file = File.OpenRead(path);
        return ReadHeader(file, path);
    }

    private static int ReadHeader(FileStream file, string path)
    {
        if (file.Length < HeaderBytes)
        {
            throw new InvalidDataException($"{path} is not a token shard: {file.Length} bytes is shorter than the {HeaderBytes}-byte header.");
        }

        Span<byte> header = stackalloc byte[12];
        file.ReadExactly(header);
        var magic = BinaryPrimitives.ReadInt32LittleEndian(header);
        var version = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        var count = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        if (magic != Magic)
        {
            throw new InvalidDataException($"{path} is not a token shard: magic number {magic}, expected {Magic}.");
        }

        if (version != Version)
        {
            throw new InvalidDataException($"{path} has token shard version {version}; only version {Version} (uint16 tokens) is supported.");
        }

        var expectedLength = HeaderBytes + (2L * count);
        if (count < 0 || file.Length != expectedLength)
        {
            throw new InvalidDataException(
                $"{path} is damaged: its header says {count} tokens ({expectedLength} bytes) but the file has {file.Length} bytes.");
        }

        file.Position = HeaderBytes;
        return count;
    }
}
