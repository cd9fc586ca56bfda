using System.Text;

namespace ProtoPNet.Model.Backbones;

/// <summary>An ONNX initializer: a named float tensor.</summary>
public sealed record OnnxTensor(string Name, long[] Dims, float[] Data);

/// <summary>An ONNX graph node: operator, input and output tensor names, integer-list attributes.</summary>
public sealed record OnnxNode(string OpType, string[] Inputs, string[] Outputs, Dictionary<string, long[]> IntAttributes);

/// <summary>
/// Reads the parts of an ONNX file that weight conversion needs — graph nodes and float initializers — straight
/// from the protobuf wire format (ModelProto.graph = 7; GraphProto.node = 1, initializer = 5; NodeProto.input = 1,
/// output = 2, op_type = 4, attribute = 5; TensorProto.dims = 1, data_type = 2, float_data = 4, name = 8, raw_data = 9).
/// No generated protobuf code and no ONNX Runtime: the product needs only these few fields.
/// </summary>
public static class OnnxModelReader
{
    public static (List<OnnxNode> Nodes, Dictionary<string, OnnxTensor> Initializers) Read(string path)
    {
        var model = File.ReadAllBytes(path);
        var nodes = new List<OnnxNode>();
        var initializers = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        try
        {
            foreach (var (field, graph) in LengthDelimited(model))
            {
                if (field != 7) continue;
                foreach (var (f, item) in LengthDelimited(graph))
                {
                    if (f == 1) nodes.Add(ReadNode(item));
                    else if (f == 5) { var t = ReadTensor(item); initializers[t.Name] = t; }
                }
            }
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentOutOfRangeException or InvalidDataException or OverflowException)
        {
            throw new ProtoPNetException("OnnxFileUnreadable", ErrorKind.InvalidData, $"'{path}' is not a readable ONNX model: {e.Message}", path, e);
        }
        if (nodes.Count == 0)
            throw new ProtoPNetException("OnnxFileUnreadable", ErrorKind.InvalidData, $"'{path}' holds no ONNX graph.", path);
        return (nodes, initializers);
    }

    private static OnnxNode ReadNode(ReadOnlyMemory<byte> node)
    {
        var inputs = new List<string>(); var outputs = new List<string>(); string op = "";
        var attributes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var (f, value) in LengthDelimited(node))
        {
            switch (f)
            {
                case 1: inputs.Add(Encoding.UTF8.GetString(value.Span)); break;
                case 2: outputs.Add(Encoding.UTF8.GetString(value.Span)); break;
                case 4: op = Encoding.UTF8.GetString(value.Span); break;
                case 5:
                    string name = ""; var ints = new List<long>();
                    foreach (var field in Fields(value))
                    {
                        if (field.Number == 1 && field.Bytes is { } n) name = Encoding.UTF8.GetString(n.Span);
                        else if (field.Number == 8 && field.Bytes is { } packed) ints.AddRange(PackedVarints(packed));
                        else if (field.Number == 8) ints.Add((long)field.Varint);
                    }
                    attributes[name] = ints.ToArray();
                    break;
            }
        }
        return new OnnxNode(op, inputs.ToArray(), outputs.ToArray(), attributes);
    }

    private static OnnxTensor ReadTensor(ReadOnlyMemory<byte> tensor)
    {
        var dims = new List<long>(); string name = ""; int dataType = 0; float[]? data = null;
        foreach (var field in Fields(tensor))
        {
            switch (field.Number)
            {
                case 1 when field.Bytes is { } packed: dims.AddRange(PackedVarints(packed)); break;
                case 1: dims.Add((long)field.Varint); break;
                case 2: dataType = (int)field.Varint; break;
                case 4 when field.Bytes is { } floats: data = MemoryMarshalFloats(floats); break;
                case 8: name = Encoding.UTF8.GetString(field.Bytes!.Value.Span); break;
                case 9: data = MemoryMarshalFloats(field.Bytes!.Value); break;
            }
        }
        if (dataType != 1)
            throw new InvalidDataException($"initializer '{name}' has ONNX data type {dataType}; only float32 (1) is supported");
        data ??= [];
        long count = dims.Aggregate(1L, (a, b) => a * b);
        if (data.Length != count)
            throw new InvalidDataException($"initializer '{name}' holds {data.Length} values for shape [{string.Join(",", dims)}]");
        return new OnnxTensor(name, dims.ToArray(), data);
    }

    private static float[] MemoryMarshalFloats(ReadOnlyMemory<byte> bytes)
    {
        var result = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes.ToArray(), 0, result, 0, result.Length * 4); // ONNX stores little-endian, as does x64/arm64
        return result;
    }

    private readonly record struct Field(int Number, ulong Varint, ReadOnlyMemory<byte>? Bytes);

    private static IEnumerable<(int Field, ReadOnlyMemory<byte> Value)> LengthDelimited(ReadOnlyMemory<byte> message) =>
        Fields(message).Where(f => f.Bytes is not null).Select(f => (f.Number, f.Bytes!.Value));

    private static IEnumerable<Field> Fields(ReadOnlyMemory<byte> message)
    {
        int pos = 0;
        while (pos < message.Length)
        {
            ulong key = ReadVarint(message.Span, ref pos);
            int number = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0: yield return new Field(number, ReadVarint(message.Span, ref pos), null); break;
                case 1: pos += 8; break;
                case 2:
                    int length = checked((int)ReadVarint(message.Span, ref pos));
                    if (length < 0 || pos + length > message.Length) throw new InvalidDataException("a field runs past the end of its message");
                    yield return new Field(number, 0, message.Slice(pos, length));
                    pos += length;
                    break;
                case 5: pos += 4; break;
                default: throw new InvalidDataException($"unsupported protobuf wire type {wire}");
            }
        }
    }

    private static IEnumerable<long> PackedVarints(ReadOnlyMemory<byte> packed)
    {
        var list = new List<long>();
        int pos = 0;
        while (pos < packed.Length) list.Add((long)ReadVarint(packed.Span, ref pos));
        return list;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> span, ref int pos)
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte b = span[pos++];
            result |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw new InvalidDataException("malformed varint");
    }
}
