using System.Buffers.Binary;

namespace WebLlm.Contracts.Tests;

public class StepColumnsTests
{
    private static List<StepMetricDto> Steps(int count, int seed = 1)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(i => new StepMetricDto(
            Step: 1_000_000_000_000L + i * 3, // past 32 bits, and not consecutive
            Loss: i % 7 == 3 ? null : random.NextDouble() * 10,
            LearningRate: i % 5 == 1 ? null : 3e-4 * random.NextDouble(),
            GradNorm: i % 4 == 2 ? null : random.NextDouble() * 1e6,
            TokensPerSecond: random.Next(2) == 0 ? null : random.NextDouble() * 1e5,
            Milliseconds: 40 + random.NextDouble(),
            Mfu: i % 3 == 0 ? null : random.NextDouble(),
            TokensSeen: long.MaxValue - i,
            ElapsedSeconds: i * 0.04 + double.Epsilon,
            NonFinite: i % 7 == 3)).ToList();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1000)]
    public void Round_trips_every_value_and_null(int count)
    {
        var steps = Steps(count);
        var data = StepColumns.Encode(steps);

        Assert.Equal(StepColumns.SizeOf(count), data.Length);
        Assert.Equal(12 + 73 * count, data.Length);
        Assert.Equal(steps, StepColumns.Decode(data));
    }

    [Fact]
    public void Lays_out_the_documented_columns()
    {
        var steps = Steps(3);
        var data = StepColumns.Encode(steps);

        Assert.Equal("WLSC"u8.ToArray(), data[..4]);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(4)));
        Assert.Equal(3, BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(8)));
        Assert.Equal(steps[2].Step, BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(12 + 2 * 8)));
        Assert.Equal(steps[1].TokensSeen, BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(12 + (3 + 1) * 8)));
        Assert.Equal(steps[2].Loss ?? double.NaN, BinaryPrimitives.ReadDoubleLittleEndian(data.AsSpan(12 + (6 + 2) * 8)));
        Assert.Equal(steps[0].ElapsedSeconds, BinaryPrimitives.ReadDoubleLittleEndian(data.AsSpan(12 + (8 * 3) * 8)));
        Assert.Equal(steps.Select(s => s.NonFinite ? (byte)1 : (byte)0), data[^3..]);
    }

    [Fact]
    public void Non_finite_values_read_back_as_null_like_everywhere_else()
    {
        var data = StepColumns.Encode([new StepMetricDto(1, double.PositiveInfinity, double.NaN, double.NegativeInfinity, null, null, null, 0, 0, true)]);

        var step = Assert.Single(StepColumns.Decode(data));
        Assert.Null(step.Loss);
        Assert.Null(step.LearningRate);
        Assert.Null(step.GradNorm);
        Assert.True(step.NonFinite);
    }

    public static TheoryData<string, byte[]> Malformed()
    {
        var good = StepColumns.Encode(Steps(4));
        byte[] With(Action<byte[]> change)
        {
            var copy = good.ToArray();
            change(copy);
            return copy;
        }
        return new()
        {
            { "empty", [] },
            { "header cut short", good[..11] },
            { "not the magic", With(d => d[0] = (byte)'X') },
            { "another version", With(d => BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(4), 2)) },
            { "one byte short", good[..^1] },
            { "one byte long", [.. good, 0] },
            { "more steps announced", With(d => BinaryPrimitives.WriteInt32LittleEndian(d.AsSpan(8), 5)) },
            { "negative count", With(d => BinaryPrimitives.WriteInt32LittleEndian(d.AsSpan(8), -1)) },
            { "count overflowing the size", With(d => BinaryPrimitives.WriteInt32LittleEndian(d.AsSpan(8), int.MaxValue)) },
        };
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_data_is_a_format_error_not_a_crash(string what, byte[] data)
    {
        var error = Assert.Throws<FormatException>(() => StepColumns.Decode(data));
        Assert.False(string.IsNullOrEmpty(error.Message), what);
    }
}
