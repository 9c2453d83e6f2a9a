using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace WebLlm.Training.Checkpoints;

/// <summary>
/// The safetensors format (8-byte little-endian header length, a JSON header of name → dtype, shape,
/// data_offsets, then the raw bytes), for fp32 tensors. Reading validates every offset and shape against
/// the file before allocating anything: checkpoints may come from elsewhere.
/// </summary>
public static class SafeTensors
{
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    public static void Write(Stream stream, IEnumerable<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.Select(t => (t.Name, Tensor: t.Tensor.detach().cpu().to(ScalarType.Float32).contiguous())).ToList();
        try
        {
            var header = new JsonObject();
            if (metadata is { Count: > 0 })
                header["__metadata__"] = new JsonObject(metadata.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value))));
            long offset = 0;
            foreach (var (name, t) in list)
            {
                long bytes = t.NumberOfElements * 4;
                header[name] = new JsonObject
                {
                    ["dtype"] = "F32",
                    ["shape"] = new JsonArray(t.shape.Select(d => (JsonNode?)JsonValue.Create(d)).ToArray()),
                    ["data_offsets"] = new JsonArray(offset, offset + bytes),
                };
                offset += bytes;
            }
            var json = Encoding.UTF8.GetBytes(header.ToJsonString());
            // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
            int padded = (json.Length + 7) / 8 * 8;
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
            stream.Write(len);
            stream.Write(json);
            for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
            foreach (var (_, t) in list)
                t.WriteBytesToStream(stream, 1 << 20);
        }
        finally
        {
            foreach (var (_, t) in list) t.Dispose();
        }
    }

    /// <summary>
    /// Reads the tensors whose names pass <paramref name="include"/> (all by default) as fp32 on the CPU;
    /// F16 and BF16 tensors are widened. The caller owns and disposes them. Tensors left out may have any dtype.
    /// </summary>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path, Func<string, bool>? include = null)
    {
        using var stream = File.OpenRead(path);
        long fileLength = stream.Length;
        Span<byte> len = stackalloc byte[8];
        if (stream.ReadAtLeast(len, 8, throwOnEndOfStream: false) < 8)
            throw new InvalidDataException($"{path}: too short to be a safetensors file.");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(len);
        if (headerLength == 0 || headerLength > (ulong)Math.Min(MaxHeaderBytes, fileLength - 8))
            throw new InvalidDataException($"{path}: header length {headerLength} does not fit the file ({fileLength} bytes).");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        long dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;

        var metadata = new Dictionary<string, string>();
        List<Entry> entries;
        try
        {
            var header = JsonNode.Parse(headerBytes) as JsonObject ?? throw new InvalidDataException($"{path}: the header is not a JSON object.");
            entries = ParseHeader(path, header, dataLength, metadata, include ?? (_ => true));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: malformed header ({e.Message}).", e);
        }

        var tensors = new Dictionary<string, Tensor>();
        try
        {
            foreach (var e in entries)
            {
                using var raw = empty(e.Shape, e.Type).DetachFromDisposeScope();
                stream.Position = dataStart + e.Begin;
                raw.ReadBytesFromStream(stream, 1 << 20);
                tensors[e.Name] = (e.Type == ScalarType.Float32 ? raw.clone() : raw.to(ScalarType.Float32)).DetachFromDisposeScope();
            }
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
        return (tensors, metadata);
    }

    private sealed record Entry(string Name, long[] Shape, ScalarType Type, long Begin);

    private static List<Entry> ParseHeader(string path, JsonObject header, long dataLength, Dictionary<string, string> metadata, Func<string, bool> include)
    {
        var entries = new List<Entry>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                foreach (var (k, v) in node as JsonObject ?? []) metadata[k] = v?.ToString() ?? "";
                continue;
            }
            if (!include(name)) continue;
            var obj = node as JsonObject ?? throw new InvalidDataException($"{path}: entry '{name}' is not an object.");
            string dtype = obj["dtype"]?.GetValue<string>() ?? "";
            (ScalarType type, int size) = dtype switch
            {
                "F32" => (ScalarType.Float32, 4),
                "F16" => (ScalarType.Float16, 2),
                "BF16" => (ScalarType.BFloat16, 2),
                _ => throw new InvalidDataException($"{path}: tensor '{name}' has dtype '{dtype}'; F32, F16 and BF16 are supported."),
            };
            var shape = (obj["shape"] as JsonArray ?? throw new InvalidDataException($"{path}: tensor '{name}' has no shape."))
                .Select(d => d?.GetValue<long>() ?? -1).ToArray();
            var offsets = obj["data_offsets"] as JsonArray;
            if (offsets is not { Count: 2 }) throw new InvalidDataException($"{path}: tensor '{name}' has no data_offsets.");
            long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
            long elements = 1;
            foreach (var d in shape)
            {
                if (d < 0 || (d > 0 && elements > long.MaxValue / size / d)) throw new InvalidDataException($"{path}: tensor '{name}' has an invalid shape.");
                elements *= d;
            }
            if (begin < 0 || end < begin || end > dataLength || end - begin != elements * size)
                throw new InvalidDataException($"{path}: tensor '{name}' offsets [{begin}, {end}) do not match its shape or the file ({dataLength} data bytes); the file may be truncated.");
            entries.Add(new Entry(name, shape, type, begin));
        }
        return entries;
    }
}
