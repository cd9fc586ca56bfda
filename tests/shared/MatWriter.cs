// Test helper (xunit compiles it; Pester loads it with Add-Type): writes MATLAB v5 MAT-files holding the kinds of
// variables the Stanford Cars devkit has — a cell array of strings and a struct array of scalars and strings —
// compressed (miCOMPRESSED, as MATLAB's default -v7 writes) or not.
using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Text;

public static class MatWriter
{
    private const int MiInt8 = 1, MiUInt8 = 2, MiUInt16 = 4, MiInt32 = 5, MiUInt32 = 6, MiDouble = 9, MiMatrix = 14, MiCompressed = 15;
    private const int MxCell = 1, MxStruct = 2, MxChar = 4, MxDouble = 6, MxUInt8 = 9, MxUInt16 = 11;

    /// <summary>A 1×n cell array of strings, e.g. cars_meta.mat's class_names.</summary>
    public static void WriteCellOfStrings(string path, string name, string[] values, bool compress)
    {
        var cells = new List<byte[]>();
        foreach (var v in values) cells.Add(CharMatrix("", v));
        Save(path, Matrix(MxCell, new[] { 1, values.Length }, name, Concat(cells)), compress);
    }

    /// <summary>
    /// A 1×n struct array, e.g. cars_train_annos.mat's annotations. Values: string → char, byte → uint8,
    /// ushort → uint16, anything numeric else → double.
    /// </summary>
    public static void WriteStructArray(string path, string name, string[] fields, object[][] rows, bool compress)
    {
        int longest = 0;
        foreach (var f in fields) longest = Math.Max(longest, f.Length + 1);
        var names = new byte[longest * fields.Length];
        for (int i = 0; i < fields.Length; i++) Encoding.ASCII.GetBytes(fields[i]).CopyTo(names, i * longest);
        var body = new List<byte[]> { Element(MiInt32, BitConverter.GetBytes(longest)), Element(MiInt8, names) };
        // Column-major over a 1×n array: element by element, each with all its fields.
        foreach (var row in rows)
            foreach (var value in row) body.Add(Value(value));
        Save(path, Matrix(MxStruct, new[] { 1, rows.Length }, name, Concat(body)), compress);
    }

    private static byte[] Value(object value) => value switch
    {
        string s => CharMatrix("", s),
        byte b => Matrix(MxUInt8, new[] { 1, 1 }, "", Element(MiUInt8, new[] { b })),
        ushort u => Matrix(MxUInt16, new[] { 1, 1 }, "", Element(MiUInt16, BitConverter.GetBytes(u))),
        _ => Matrix(MxDouble, new[] { 1, 1 }, "", Element(MiDouble, BitConverter.GetBytes(Convert.ToDouble(value)))),
    };

    private static byte[] CharMatrix(string name, string text)
    {
        var data = new byte[text.Length * 2];
        for (int i = 0; i < text.Length; i++) BitConverter.GetBytes((ushort)text[i]).CopyTo(data, 2 * i);
        return Matrix(MxChar, new[] { 1, text.Length }, name, Element(MiUInt16, data));
    }

    private static byte[] Matrix(int classCode, int[] dims, string name, byte[] body)
    {
        var flags = new byte[8];
        BitConverter.GetBytes(classCode).CopyTo(flags, 0);
        var dimBytes = new byte[4 * dims.Length];
        for (int i = 0; i < dims.Length; i++) BitConverter.GetBytes(dims[i]).CopyTo(dimBytes, 4 * i);
        var content = Concat(new List<byte[]> { Element(MiUInt32, flags), Element(MiInt32, dimBytes), Element(MiInt8, Encoding.ASCII.GetBytes(name)), body });
        return Concat(new List<byte[]> { Tag(MiMatrix, content.Length), content });
    }

    /// <summary>A data element; data of 1–4 bytes use the small element format, as MATLAB writes them.</summary>
    private static byte[] Element(int type, byte[] data)
    {
        if (data.Length > 0 && data.Length <= 4)
        {
            var small = new byte[8];
            BitConverter.GetBytes((uint)type | ((uint)data.Length << 16)).CopyTo(small, 0);
            data.CopyTo(small, 4);
            return small;
        }
        int padded = (data.Length + 7) & ~7;
        var result = new byte[8 + padded];
        Tag(type, data.Length).CopyTo(result, 0);
        data.CopyTo(result, 8);
        return result;
    }

    private static byte[] Tag(int type, int size)
    {
        var tag = new byte[8];
        BitConverter.GetBytes(type).CopyTo(tag, 0);
        BitConverter.GetBytes(size).CopyTo(tag, 4);
        return tag;
    }

    private static byte[] Concat(List<byte[]> parts)
    {
        var stream = new MemoryStream();
        foreach (var p in parts) stream.Write(p, 0, p.Length);
        return stream.ToArray();
    }

    private static void Save(string path, byte[] matrix, bool compress)
    {
        var header = new byte[128];
        var text = Encoding.ASCII.GetBytes("MATLAB 5.0 MAT-file, written by the ProtoPNet.PS tests");
        for (int i = 0; i < 116; i++) header[i] = i < text.Length ? text[i] : (byte)' ';
        BitConverter.GetBytes((short)0x0100).CopyTo(header, 124);
        header[126] = (byte)'I';
        header[127] = (byte)'M';
        using var file = File.Create(path);
        file.Write(header, 0, header.Length);
        if (!compress)
        {
            file.Write(matrix, 0, matrix.Length);
            return;
        }
        var zipped = new MemoryStream();
        using (var z = new ZLibStream(zipped, CompressionLevel.Optimal, leaveOpen: true)) z.Write(matrix, 0, matrix.Length);
        file.Write(Tag(MiCompressed, (int)zipped.Length), 0, 8);
        file.Write(zipped.ToArray(), 0, (int)zipped.Length);
    }
}
