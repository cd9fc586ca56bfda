using System.IO.Compression;
using System.Text;

namespace ProtoPNet.Data;

/// <summary>A value read from a MATLAB v5 .mat file: numeric or char array, cell array or struct array.</summary>
public abstract record MatValue(string Name, int[] Dimensions)
{
    public int ElementCount => Dimensions.Aggregate(1, (a, b) => a * b);
}

/// <summary>A numeric array (any MATLAB class), held as doubles in column-major order.</summary>
public sealed record MatNumeric(string Name, int[] Dimensions, double[] Values) : MatValue(Name, Dimensions);

/// <summary>A char array; <see cref="Text"/> reads it row by row (a 1×n array is one string).</summary>
public sealed record MatChar(string Name, int[] Dimensions, string Text) : MatValue(Name, Dimensions);

public sealed record MatCell(string Name, int[] Dimensions, MatValue[] Elements) : MatValue(Name, Dimensions);

/// <summary>A struct array: <see cref="Elements"/>[i][field] in column-major order.</summary>
public sealed record MatStruct(string Name, int[] Dimensions, string[] FieldNames, Dictionary<string, MatValue>[] Elements) : MatValue(Name, Dimensions);

/// <summary>An array of a class this reader does not interpret (sparse, objects, function handles).</summary>
public sealed record MatUnsupported(string Name, int[] Dimensions, int ClassCode) : MatValue(Name, Dimensions);

/// <summary>
/// Reads MATLAB Level-5 MAT-files (what <c>save</c> writes by default up to -v7): the top-level variables,
/// compressed (miCOMPRESSED, zlib) or not, in either byte order. Enough for the Stanford Cars devkit files;
/// v7.3 files (HDF5) are refused with an error that says so.
/// </summary>
public static class MatFile
{
    private const int MiInt8 = 1, MiUInt8 = 2, MiInt16 = 3, MiUInt16 = 4, MiInt32 = 5, MiUInt32 = 6, MiSingle = 7, MiDouble = 9,
        MiInt64 = 12, MiUInt64 = 13, MiMatrix = 14, MiCompressed = 15, MiUtf8 = 16, MiUtf16 = 17, MiUtf32 = 18;
    private const int MxCell = 1, MxStruct = 2, MxObject = 3, MxChar = 4, MxSparse = 5;

    public static Dictionary<string, MatValue> Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ProtoPNetException("MatFileUnreadable", ErrorKind.ReadError, $"Cannot read '{path}': {e.Message}", path, e);
        }
        try
        {
            return Read(bytes, path);
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or InvalidDataException or EndOfStreamException or OverflowException)
        {
            throw new ProtoPNetException("MatFileInvalid", ErrorKind.InvalidData, $"'{path}' is not a readable MATLAB v5 file: {e.Message}", path, e);
        }
    }

    public static Dictionary<string, MatValue> Read(byte[] bytes, string path = "")
    {
        if (bytes.Length < 128)
            throw new ProtoPNetException("MatFileInvalid", ErrorKind.InvalidData, $"'{path}' is too short to be a MAT-file.", path);
        bool hdf5 = bytes.Length >= 520 && bytes[512] == 0x89 && bytes[513] == (byte)'H' && bytes[514] == (byte)'D' && bytes[515] == (byte)'F';
        if (hdf5 || Encoding.ASCII.GetString(bytes, 0, 20).StartsWith("MATLAB 7.3", StringComparison.Ordinal))
            throw new ProtoPNetException("MatFileVersionUnsupported", ErrorKind.InvalidData, $"'{path}' is a v7.3 (HDF5) MAT-file; save it with -v7.", path);
        bool bigEndian = bytes[126] == (byte)'M' && bytes[127] == (byte)'I';
        if (!bigEndian && !(bytes[126] == (byte)'I' && bytes[127] == (byte)'M'))
            throw new ProtoPNetException("MatFileInvalid", ErrorKind.InvalidData, $"'{path}' has no MAT-file v5 header.", path);
        var reader = new Reader(bytes, bigEndian);
        var result = new Dictionary<string, MatValue>();
        int pos = 128;
        while (pos + 8 <= bytes.Length)
        {
            var (type, size, dataStart, next) = reader.Tag(pos);
            if (type == MiCompressed)
            {
                using var z = new ZLibStream(new MemoryStream(bytes, dataStart, size), CompressionMode.Decompress);
                using var inflated = new MemoryStream();
                z.CopyTo(inflated);
                var inner = new Reader(inflated.ToArray(), bigEndian);
                var (t2, s2, d2, _) = inner.Tag(0);
                if (t2 == MiMatrix) Add(result, inner.Matrix(d2, s2));
            }
            else if (type == MiMatrix) Add(result, reader.Matrix(dataStart, size));
            pos = next;
        }
        return result;
    }

    private static void Add(Dictionary<string, MatValue> result, MatValue value) => result[value.Name] = value;

    private sealed class Reader(byte[] data, bool bigEndian)
    {
        private uint U32(int at)
        {
            uint v = BitConverter.ToUInt32(data, at);
            return bigEndian ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v) : v;
        }

        /// <summary>Type, byte count, where the data starts, where the next element starts (8-byte aligned).</summary>
        public (int Type, int Size, int DataStart, int Next) Tag(int at)
        {
            uint first = U32(at);
            if ((first >> 16) != 0) // small data element: size and type share one word, data in the next 4 bytes
                return ((int)(first & 0xFFFF), (int)(first >> 16), at + 4, at + 8);
            int size = checked((int)U32(at + 4));
            if (at + 8 + (long)size > data.Length) throw new EndOfStreamException($"element at {at} runs past the end of the data");
            // Compressed elements are not padded; everything else is padded to 8 bytes.
            int next = first == MiCompressed ? at + 8 + size : at + 8 + ((size + 7) & ~7);
            return ((int)first, size, at + 8, next);
        }

        public MatValue Matrix(int start, int size)
        {
            int end = start + size;
            if (size == 0) return new MatNumeric("", [0, 0], []);
            var (_, _, flagsAt, pos) = Tag(start);
            int classCode = (int)(U32(flagsAt) & 0xFF);
            var (_, dimBytes, dimAt, afterDims) = Tag(pos);
            var dims = Numbers(MiInt32, dimAt, dimBytes).Select(d => (int)d).ToArray();
            var (nameType, nameBytes, nameAt, afterName) = Tag(afterDims);
            string name = Encoding.ASCII.GetString(data, nameAt, nameBytes).TrimEnd('\0');
            pos = afterName;
            int count = dims.Aggregate(1, (a, b) => a * b);
            switch (classCode)
            {
                case MxCell:
                {
                    var elements = new MatValue[count];
                    for (int i = 0; i < count; i++)
                    {
                        var (_, s, d, next) = Tag(pos);
                        elements[i] = Matrix(d, s);
                        pos = next;
                    }
                    return new MatCell(name, dims, elements);
                }
                case MxStruct or MxObject:
                {
                    if (classCode == MxObject) // class name precedes the fields
                        pos = Tag(pos).Next;
                    var (_, _, lenAt, afterLen) = Tag(pos);
                    int fieldLength = (int)U32(lenAt);
                    var (_, fieldBytes, fieldsAt, afterFields) = Tag(afterLen);
                    int fieldCount = fieldLength == 0 ? 0 : fieldBytes / fieldLength;
                    var fields = new string[fieldCount];
                    for (int f = 0; f < fieldCount; f++)
                        fields[f] = Encoding.ASCII.GetString(data, fieldsAt + f * fieldLength, fieldLength).TrimEnd('\0');
                    pos = afterFields;
                    var elements = new Dictionary<string, MatValue>[count];
                    for (int i = 0; i < count; i++)
                    {
                        elements[i] = new Dictionary<string, MatValue>(fieldCount);
                        foreach (var field in fields)
                        {
                            var (_, s, d, next) = Tag(pos);
                            elements[i][field] = Matrix(d, s) with { Name = field };
                            pos = next;
                        }
                    }
                    return new MatStruct(name, dims, fields, elements);
                }
                case MxChar:
                {
                    var (type, bytes, at, _) = Tag(pos);
                    string text = type switch
                    {
                        MiUtf8 or MiInt8 or MiUInt8 => Encoding.UTF8.GetString(data, at, bytes),
                        MiUtf16 or MiUInt16 or MiInt16 => bigEndian ? Encoding.BigEndianUnicode.GetString(data, at, bytes) : Encoding.Unicode.GetString(data, at, bytes),
                        MiUtf32 => new UTF32Encoding(bigEndian, false).GetString(data, at, bytes),
                        _ => throw new InvalidDataException($"char array stored as type {type}"),
                    };
                    // Column-major: for an m×n char matrix, read row r as characters r, r+m, r+2m, …
                    int rows = dims.Length > 0 ? dims[0] : 1;
                    if (rows > 1 && text.Length == count)
                    {
                        int cols = count / rows;
                        var lines = new string[rows];
                        for (int r = 0; r < rows; r++)
                        {
                            var chars = new char[cols];
                            for (int c = 0; c < cols; c++) chars[c] = text[r + c * rows];
                            lines[r] = new string(chars).TrimEnd();
                        }
                        text = string.Join("\n", lines);
                    }
                    return new MatChar(name, dims, text);
                }
                case MxSparse:
                    return new MatUnsupported(name, dims, classCode);
                case >= 6 and <= 15: // double, single, int8 … uint64
                {
                    var (type, bytes, at, _) = Tag(pos);
                    return new MatNumeric(name, dims, Numbers(type, at, bytes));
                }
                default:
                    _ = end;
                    return new MatUnsupported(name, dims, classCode);
            }
        }

        private double[] Numbers(int type, int at, int bytes)
        {
            int width = type switch
            {
                MiInt8 or MiUInt8 => 1,
                MiInt16 or MiUInt16 => 2,
                MiInt32 or MiUInt32 or MiSingle => 4,
                MiDouble or MiInt64 or MiUInt64 => 8,
                _ => throw new InvalidDataException($"numeric data of type {type}"),
            };
            var values = new double[bytes / width];
            Span<byte> buffer = stackalloc byte[8];
            for (int i = 0; i < values.Length; i++)
            {
                var raw = buffer[..width];
                data.AsSpan(at + i * width, width).CopyTo(raw);
                if (bigEndian && width > 1) raw.Reverse();
                values[i] = type switch
                {
                    MiInt8 => (sbyte)raw[0],
                    MiUInt8 => raw[0],
                    MiInt16 => BitConverter.ToInt16(raw),
                    MiUInt16 => BitConverter.ToUInt16(raw),
                    MiInt32 => BitConverter.ToInt32(raw),
                    MiUInt32 => BitConverter.ToUInt32(raw),
                    MiSingle => BitConverter.ToSingle(raw),
                    MiDouble => BitConverter.ToDouble(raw),
                    MiInt64 => BitConverter.ToInt64(raw),
                    _ => BitConverter.ToUInt64(raw),
                };
            }
            return values;
        }
    }
}
