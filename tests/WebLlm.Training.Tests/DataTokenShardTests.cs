using WebLlm.Training.Data;

namespace WebLlm.Training.Tests;

public sealed class DataTokenShardTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Round_trips_in_llm_c_layout()
    {
        var path = _dir.File("train.bin");
        int[] tokens = [0, 1, 50256, 65535, 42];
        TokenShard.Write(path, tokens);

        var bytes = File.ReadAllBytes(path);
        Assert.Equal(1024 + (2 * tokens.Length), bytes.Length);
        Assert.Equal(20240520, BitConverter.ToInt32(bytes, 0));
        Assert.Equal(1, BitConverter.ToInt32(bytes, 4));
        Assert.Equal(5, BitConverter.ToInt32(bytes, 8));
        Assert.Equal(50256, BitConverter.ToUInt16(bytes, 1024 + 4));
        Assert.Equal(tokens, TokenShard.Read(path).Select(t => (int)t));
        Assert.Equal(5, TokenShard.ReadTokenCount(path));
        Assert.Single(Directory.GetFiles(_dir.Path));
    }

    [Fact]
    public void Rejects_ids_beyond_uint16()
    {
        var path = _dir.File("big.bin");
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => TokenShard.Write(path, [1, 65536]));
        Assert.Contains("65536", error.Message);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Bad_magic_names_the_file()
    {
        var path = _dir.File("bad.bin");
        TokenShard.Write(path, [1, 2, 3]);
        var bytes = File.ReadAllBytes(path);
        bytes[0] ^= 0xFF;
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<InvalidDataException>(() => TokenShard.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("magic", error.Message);
    }

    [Fact]
    public void Truncated_file_names_the_file_and_both_lengths()
    {
        var path = _dir.File("short.bin");
        TokenShard.Write(path, [1, 2, 3]);
        using (var file = File.OpenWrite(path))
        {
            file.SetLength(1024 + 4);
        }

        var error = Assert.Throws<InvalidDataException>(() => TokenShard.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("1030", error.Message);
        Assert.Contains("1028", error.Message);
    }
}
