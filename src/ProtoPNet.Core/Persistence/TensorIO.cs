using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Persistence;

/// <summary>Raw, bit-exact tensor (de)serialization: dtype, shape, then the little-endian bytes.</summary>
internal static class TensorIO
{
    public static void Write(BinaryWriter writer, string name, Tensor tensor)
    {
        using var scope = NewDisposeScope();   // holds detach() and cpu() while contiguous() reads them
        var cpu = tensor.detach().cpu().contiguous();
        writer.Write(name);
        writer.Write((byte)cpu.dtype);
        writer.Write((byte)cpu.ndim);
        foreach (long d in cpu.shape) writer.Write(d);
        var bytes = cpu.bytes;
        writer.Write((long)bytes.Length);
        writer.Write(bytes);
    }

    public static (string Name, Tensor Tensor) Read(BinaryReader reader)
    {
        string name = reader.ReadString();
        var dtype = (ScalarType)reader.ReadByte();
        int ndim = reader.ReadByte();
        var shape = new long[ndim];
        for (int i = 0; i < ndim; i++) shape[i] = reader.ReadInt64();
        long length = reader.ReadInt64();
        using var scope = NewDisposeScope();
        var tensor = torch.empty(shape, dtype).DetachFromDisposeScope();   // the caller's
        if (length != tensor.ElementSize * tensor.numel())
        {
            tensor.Dispose();
            throw new InvalidDataException($"tensor '{name}' holds {length} bytes, its shape needs {tensor.ElementSize * tensor.numel()}");
        }
        tensor.bytes = reader.ReadBytes(checked((int)length));
        return (name, tensor);
    }
}
