using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace WebLlm.Contracts;

/// <summary>
/// Step metrics as packed little-endian columns: how the hub pushes them (<see cref="ITrainingClient.StepMetrics"/>)
/// and how the dashboard loads a run's history (<see cref="ApiRoutes.RunMetricColumns"/>). The browser's WebAssembly
/// interpreter read JSON step objects at about 0.2 ms a step (a 100,000-step run took half a minute to open, and a
/// live push of 25 steps 6 ms of the page's one thread, on the machine that trains); these columns are copied, not
/// parsed. REST keeps JSON (<see cref="MetricsPage"/>) for everyone else.
/// <para>
/// Layout: the 4 ASCII bytes <c>WLSC</c>, a uint16 version (1), a uint16 0, an int32 count n; then n values of each
/// column in this order: <c>Step</c> and <c>TokensSeen</c> (int64); <c>Loss</c>, <c>LearningRate</c>, <c>GradNorm</c>,
/// <c>TokensPerSecond</c>, <c>Milliseconds</c>, <c>Mfu</c>, <c>ElapsedSeconds</c> (float64, NaN for null);
/// <c>NonFinite</c> (one byte, 0 or 1). 12 + 73·n bytes. In numpy: <c>np.frombuffer(data, "&lt;i8", n, 12)</c> is
/// the steps.
/// </para>
/// </summary>
public static class StepColumns
{
    public const string MediaType = "application/vnd.webllm.step-columns";
    public const ushort Version = 1;
    private const int HeaderBytes = 12;
    private const int BytesPerStep = 2 * sizeof(long) + DoubleColumns * sizeof(double) + 1;
    private const int DoubleColumns = 7;
    private static ReadOnlySpan<byte> Magic => "WLSC"u8;

    public static int SizeOf(int count) => HeaderBytes + BytesPerStep * count;

    public static byte[] Encode(IReadOnlyList<StepMetricDto> steps)
    {
        int n = steps.Count;
        var data = new byte[SizeOf(n)];
        Magic.CopyTo(data);
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(4), Version);
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(8), n);
        var body = data.AsSpan(HeaderBytes);
        for (int i = 0; i < n; i++)
        {
            var s = steps[i];
            BinaryPrimitives.WriteInt64LittleEndian(body[(8 * i)..], s.Step);
            BinaryPrimitives.WriteInt64LittleEndian(body[(8 * (n + i))..], s.TokensSeen);
            ReadOnlySpan<double> values = [s.Loss ?? double.NaN, s.LearningRate ?? double.NaN, s.GradNorm ?? double.NaN,
                s.TokensPerSecond ?? double.NaN, s.Milliseconds ?? double.NaN, s.Mfu ?? double.NaN, s.ElapsedSeconds];
            for (int c = 0; c < DoubleColumns; c++)
                BinaryPrimitives.WriteDoubleLittleEndian(body[(8 * ((2 + c) * n + i))..], values[c]);
            body[(2 + DoubleColumns) * 8 * n + i] = s.NonFinite ? (byte)1 : (byte)0;
        }
        return data;
    }

    /// <summary>The steps in <paramref name="data"/>; a <see cref="FormatException"/> when it is not this layout.</summary>
    public static List<StepMetricDto> Decode(ReadOnlySpan<byte> data)
    {
        if (data.Length < HeaderBytes || !data[..4].SequenceEqual(Magic))
            throw new FormatException("Not step columns: the data does not start with WLSC.");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(data[4..]);
        if (version != Version) throw new FormatException($"Step columns version {version}; this build reads version {Version}.");
        int n = BinaryPrimitives.ReadInt32LittleEndian(data[8..]);
        if (n < 0 || n > (data.Length - HeaderBytes) / BytesPerStep || data.Length != SizeOf(n))
            throw new FormatException($"Step columns of {data.Length} bytes cannot hold the {n} steps they announce.");
        var body = data[HeaderBytes..];
        // The columns are 8-byte values at 8-byte offsets from the body; copied once to aligned arrays (on this
        // little-endian machine a plain copy, per value only where the byte order differs).
        var longs = Column<long>(body[..(16 * n)]);
        var doubles = Column<double>(body.Slice(16 * n, 8 * DoubleColumns * n));
        var flags = body[((2 + DoubleColumns) * 8 * n)..];
        var steps = new List<StepMetricDto>(n);
        for (int i = 0; i < n; i++)
        {
            steps.Add(new StepMetricDto(longs[i], Null(doubles[i]), Null(doubles[n + i]), Null(doubles[2 * n + i]),
                Null(doubles[3 * n + i]), Null(doubles[4 * n + i]), Null(doubles[5 * n + i]), longs[n + i], doubles[6 * n + i], flags[i] != 0));
        }
        return steps;
    }

    private static T[] Column<T>(ReadOnlySpan<byte> bytes) where T : unmanaged
    {
        var values = MemoryMarshal.Cast<byte, T>(bytes).ToArray();
        if (!BitConverter.IsLittleEndian)
        {
            var raw = MemoryMarshal.Cast<T, long>(values.AsSpan());
            BinaryPrimitives.ReverseEndianness(raw, raw);
        }
        return values;
    }

    private static double? Null(double value) => double.IsFinite(value) ? value : null;
}
