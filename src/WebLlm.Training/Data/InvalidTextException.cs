namespace WebLlm.Training.Data;

/// <summary>An input file is not valid UTF-8; says where, so the user can find and fix the byte.</summary>
public sealed class InvalidTextException : Exception
{
    public InvalidTextException(string path, long byteOffset, byte badByte)
        : base($"{path} is not valid UTF-8: byte 0x{badByte:X2} at offset {byteOffset} does not start or continue a valid sequence. Save the file as UTF-8 and try again.")
    {
        FilePath = path;
        ByteOffset = byteOffset;
    }

    public InvalidTextException()
    {
        FilePath = "";
    }

    public InvalidTextException(string message)
        : base(message)
    {
        FilePath = "";
    }

    public InvalidTextException(string message, Exception innerException)
        : base(message, innerException)
    {
        FilePath = "";
    }

    public string FilePath { get; }

    /// <summary>Offset of the first invalid byte from the start of the file (a BOM included).</summary>
    public long ByteOffset { get; }
}
