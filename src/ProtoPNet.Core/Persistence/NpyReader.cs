using System.Text;
using System.Text.RegularExpressions;

namespace ProtoPNet.Persistence;

/// <summary>
/// Reads NumPy .npy arrays of integers or floats (little-endian, C order) as doubles — enough for the authors'
/// push records (bb*.npy: one row per prototype).
/// </summary>
public static partial class NpyReader
{
    public static (long[] Shape, double[] Values) Read(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path));
        try
        {
            var magic = reader.ReadBytes(6);
            if (magic.Length < 6 || magic[0] != 0x93 || Encoding.ASCII.GetString(magic, 1, 5) != "NUMPY")
                throw Bad(path, "it does not start with the NumPy signature");
            byte major = reader.ReadByte();
            reader.ReadByte();
            int headerLength = major == 1 ? reader.ReadUInt16() : checked((int)reader.ReadUInt32());
            string header = Encoding.Latin1.GetString(reader.ReadBytes(headerLength));
            string descr = DescrPattern().Match(header) is { Success: true } d ? d.Groups[1].Value
                : throw Bad(path, "its header has no 'descr'");
            if (FortranPattern().IsMatch(header))
                throw Bad(path, "it is in Fortran order; save it with numpy.ascontiguousarray");
            var shapeMatch = ShapePattern().Match(header);
            if (!shapeMatch.Success) throw Bad(path, "its header has no 'shape'");
            long[] shape = shapeMatch.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(long.Parse).ToArray();
            long count = shape.Aggregate(1L, (a, b) => a * b);
            var values = new double[count];
            for (long i = 0; i < count; i++)
            {
                values[i] = descr switch
                {
                    "<i8" => reader.ReadInt64(),
                    "<i4" => reader.ReadInt32(),
                    "<u1" or "|u1" => reader.ReadByte(),
                    "<f8" => reader.ReadDouble(),
                    "<f4" => reader.ReadSingle(),
                    _ => throw Bad(path, $"its element type '{descr}' is not supported (use int32/int64/float32/float64)"),
                };
            }
            return (shape, values);
        }
        catch (EndOfStreamException e)
        {
            throw new ProtoPNetException("NpyFileUnreadable", ErrorKind.InvalidData, $"'{path}' is truncated.", path, e);
        }
    }

    private static ProtoPNetException Bad(string path, string why) =>
        new("NpyFileUnreadable", ErrorKind.InvalidData, $"'{path}' is not a readable .npy array: {why}.", path);

    [GeneratedRegex(@"'descr'\s*:\s*'([^']+)'")] private static partial Regex DescrPattern();
    [GeneratedRegex(@"'fortran_order'\s*:\s*True")] private static partial Regex FortranPattern();
    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")] private static partial Regex ShapePattern();
}
