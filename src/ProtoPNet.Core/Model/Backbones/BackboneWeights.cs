using System.Collections;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace ProtoPNet.Model.Backbones;

/// <summary>What a weights file gave a backbone: names loaded, backbone names the file lacked, file names the backbone has no use for.</summary>
public sealed record WeightLoadReport(IReadOnlyList<string> Loaded, IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected);

/// <summary>Loads ImageNet backbone weights from torchvision files (.pth, .safetensors) or TorchSharp .dat files.</summary>
public static partial class BackboneWeights
{
    // The prefixes under which a backbone's own names appear in other state dicts: none (torchvision's classifiers),
    // "features." (the ProtoPNet authors' whole-network state dicts), "module." (nn.DataParallel checkpoints).
    private static readonly string[] Prefixes = ["", "features.", "module.", "module.features."];

    /// <summary>
    /// Copies every tensor of the file whose name matches a backbone parameter or buffer. The file is checked
    /// completely before anything is copied, so a refused file leaves the backbone as it was.
    /// </summary>
    /// <param name="allowMissing">Report backbone tensors the file lacks instead of refusing the file.</param>
    /// <exception cref="ProtoPNetException">WeightsMissingTensor, WeightShapeMismatch, WeightsFileUnreadable, LegacyPthFormat.</exception>
    public static WeightLoadReport Load(Backbone backbone, string path, bool allowMissing = false)
    {
        var file = Read(path);
        try
        {
            var target = backbone.state_dict();
            var renamed = MatchNames(file.Keys, target);

            // BatchNorm's batch counter is absent from torchvision's older files; PyTorch then leaves it at 0, as we do.
            var missing = target.Keys.Where(k => !renamed.ContainsKey(k) && !k.EndsWith(".num_batches_tracked", StringComparison.Ordinal)).ToList();
            if (missing.Count > 0 && !allowMissing)
                throw new ProtoPNetException("WeightsMissingTensor", ErrorKind.InvalidData,
                    $"The weights file '{path}' lacks {missing.Count} tensor(s) the {backbone.Kind} backbone needs: " +
                    $"{Summarize(missing)}. Is it a weights file for {backbone.Kind}?", missing[0]);

            var loaded = new List<string>();
            foreach (var (name, fileName) in renamed.Where(r => target.ContainsKey(r.Key)))
            {
                var source = file[fileName];
                var destination = target[name];
                if (!SameShape(source, destination))
                    throw new ProtoPNetException("WeightShapeMismatch", ErrorKind.InvalidData,
                        $"Tensor '{name}' has shape {Shape(destination)} in the {backbone.Kind} backbone but {Shape(source)} " +
                        $"in the weights file '{path}'{(fileName != name ? $" (as '{fileName}')" : "")}.", name);
                loaded.Add(name);
            }

            using (no_grad())
            {
                foreach (var name in loaded)
                {
                    var destination = target[name];
                    using var source = file[renamed[name]].reshape(destination.shape);
                    destination.copy_(source);
                }
            }
            var used = new HashSet<string>(loaded.Select(n => renamed[n]));
            var unexpected = file.Keys.Where(k => !used.Contains(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
            return new WeightLoadReport(loaded, missing, unexpected);
        }
        finally
        {
            foreach (var tensor in file.Values) tensor.Dispose();
        }
    }

    /// <summary>
    /// Backbone name → file name. Picks the prefix under which most names match, and maps DenseNet's old layer
    /// names (<c>norm.1</c>, <c>conv.2</c>, as in torchvision's own DenseNet files) onto the current ones, as torchvision does.
    /// </summary>
    private static Dictionary<string, string> MatchNames(IEnumerable<string> fileNames, Dictionary<string, Tensor> target)
    {
        var names = fileNames.ToList();
        var best = new Dictionary<string, string>();
        foreach (var prefix in Prefixes)
        {
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var fileName in names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
            {
                var name = LegacyDenseLayerName().Replace(fileName[prefix.Length..], "$1$2");
                if (target.ContainsKey(name)) map.TryAdd(name, fileName);
            }
            if (map.Count > best.Count) best = map;
        }
        return best;
    }

    [GeneratedRegex(@"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$")]
    private static partial Regex LegacyDenseLayerName();

    private static bool SameShape(Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) || (a.numel() == 1 && b.numel() == 1 && a.ndim <= 1 && b.ndim <= 1);

    private static string Shape(Tensor t) => $"[{string.Join(", ", t.shape)}]";

    private static string Summarize(IReadOnlyList<string> names) =>
        names.Count <= 8 ? string.Join(", ", names) : $"{string.Join(", ", names.Take(8))} and {names.Count - 8} more";

    // ---- reading the three formats -------------------------------------------------------------------------

    /// <summary>Name → tensor (CPU) of a weights file, by its content, not its extension.</summary>
    internal static Dictionary<string, Tensor> Read(string path)
    {
        byte[] head = new byte[16];
        long length;
        try
        {
            using var stream = File.OpenRead(path);
            length = stream.Length;
            stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unreadable(path, e.Message, e);
        }

        if (head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) return Guard(path, () => ReadPth(path));
        if (LooksLikeSafetensors(head, length)) return Guard(path, () => ReadSafetensors(path, length));
        if (head[0] == 0x80 && head[1] is >= 2 and <= 5)
            throw new ProtoPNetException("LegacyPthFormat", ErrorKind.InvalidData,
                $"'{path}' was written by torch.save in PyTorch's legacy (pre-1.6, non-zip) format, which cannot be read here. " +
                "Convert it once in Python: import torch; torch.save(torch.load('old.pth', map_location='cpu'), 'new.pth') " +
                "— that writes the zip format — and load 'new.pth'.", path);
        return Guard(path, () => ReadTorchSharp(path, length));
    }

    private static Dictionary<string, Tensor> Guard(string path, Func<Dictionary<string, Tensor>> read)
    {
        try
        {
            return read();
        }
        catch (ProtoPNetException)
        {
            throw;
        }
        catch (Exception e)
        {
            throw Unreadable(path, e.Message, e);
        }
    }

    private static ProtoPNetException Unreadable(string path, string reason, Exception? inner = null) =>
        new("WeightsFileUnreadable", ErrorKind.InvalidData,
            $"Cannot read weights from '{path}': {reason} Expected a state dict as a torchvision .pth (zip) file, " +
            "a .safetensors file, or a TorchSharp .dat file (Module.save).", path, inner);

    private static Dictionary<string, Tensor> ReadPth(string path)
    {
        using var stream = File.OpenRead(path);
        Hashtable table = PyTorchUnpickler.UnpickleStateDict(stream, leaveOpen: false, skipTensorRead: false);
        // Training checkpoints wrap the state dict: {"state_dict": {...}, "epoch": …}.
        if (!table.Values.OfType<Tensor>().Any())
            table = new[] { "state_dict", "model_state_dict", "model" }.Select(k => table[k]).OfType<Hashtable>().FirstOrDefault() ?? table;
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in table)
            if (entry.Key is string name && entry.Value is Tensor tensor) result[name] = tensor;
        if (result.Count == 0) throw Unreadable(path, "the file holds no tensors.");
        return result;
    }

    /// <summary>Safetensors: an 8-byte little-endian header length, then that many bytes of JSON beginning with '{'.</summary>
    private static bool LooksLikeSafetensors(byte[] head, long length)
    {
        long headerLength = BitConverter.ToInt64(head, 0);
        return BitConverter.IsLittleEndian && headerLength >= 2 && headerLength <= length - 8 && head[8] == '{';
    }

    /// <summary>
    /// Safetensors, read here rather than through a library so that every offset and shape is checked against the
    /// file before anything is allocated: a foreign or damaged file is refused, never a giant allocation.
    /// </summary>
    private static Dictionary<string, Tensor> ReadSafetensors(string path, long length)
    {
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        long headerLength = reader.ReadInt64();
        if (headerLength > 100_000_000) throw Unreadable(path, "its safetensors header is implausibly large.");
        long dataStart = 8 + headerLength;
        using var header = JsonDocument.Parse(reader.ReadBytes((int)headerLength));
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var entry in header.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__") continue;
                var (dtype, elementSize) = entry.Value.GetProperty("dtype").GetString() switch
                {
                    "F64" => (ScalarType.Float64, 8), "F32" => (ScalarType.Float32, 4), "F16" => (ScalarType.Float16, 2),
                    "BF16" => (ScalarType.BFloat16, 2), "I64" => (ScalarType.Int64, 8), "I32" => (ScalarType.Int32, 4),
                    "I16" => (ScalarType.Int16, 2), "I8" => (ScalarType.Int8, 1), "U8" => (ScalarType.Byte, 1),
                    "BOOL" => (ScalarType.Bool, 1),
                    var other => throw Unreadable(path, $"tensor '{entry.Name}' has element type '{other}', which is not supported."),
                };
                var shape = entry.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                var offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                long elements = 1;
                foreach (long d in shape)
                {
                    if (d < 0 || d > length) throw Unreadable(path, $"tensor '{entry.Name}' has a dimension of {d}.");
                    elements = checked(elements * d);
                }
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || dataStart + offsets[1] > length)
                    throw Unreadable(path, $"tensor '{entry.Name}' lies outside the file.");
                if (offsets[1] - offsets[0] != elements * elementSize)
                    throw Unreadable(path, $"tensor '{entry.Name}' holds {offsets[1] - offsets[0]} bytes, its shape needs {elements * elementSize}.");
                var tensor = torch.empty(shape, dtype);
                result[entry.Name] = tensor;
                stream.Position = dataStart + offsets[0];
                tensor.bytes = reader.ReadBytes(checked((int)(offsets[1] - offsets[0])));
            }
            if (result.Count == 0) throw Unreadable(path, "the file holds no tensors.");
            return result;
        }
        catch
        {
            foreach (var tensor in result.Values) tensor.Dispose();
            throw;
        }
    }

    /// <summary>
    /// TorchSharp's Module.save format: LEB128 entry count, then per entry a length-prefixed UTF-8 name and a tensor
    /// (LEB128 dtype, rank, each dimension, then the raw little-endian bytes). Every count is checked against the
    /// file's size before anything is allocated, so a foreign file is refused, not a crash.
    /// </summary>
    private static Dictionary<string, Tensor> ReadTorchSharp(string path, long length)
    {
        using var reader = new BinaryReader(File.OpenRead(path), Encoding.UTF8);
        long count = Leb128(reader);
        if (count < 1 || count > length / 4) throw Unreadable(path, "it is not in any supported weights format.");
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            for (long i = 0; i < count; i++)
            {
                string name = reader.ReadString();
                var dtype = (ScalarType)Leb128(reader);
                if (!Enum.IsDefined(dtype)) throw Unreadable(path, $"tensor '{name}' has an unknown element type.");
                long rank = Leb128(reader);
                if (rank is < 0 or > 8) throw Unreadable(path, $"tensor '{name}' has rank {rank}.");
                var shape = new long[rank];
                long elements = 1;
                for (int d = 0; d < rank; d++)
                {
                    shape[d] = Leb128(reader);
                    if (shape[d] < 0 || shape[d] > length) throw Unreadable(path, $"tensor '{name}' has a dimension of {shape[d]}.");
                    elements *= shape[d];
                    if (elements > length) throw Unreadable(path, $"tensor '{name}' is larger than the file.");
                }
                var tensor = torch.empty(shape, dtype);
                result[name] = tensor;
                long bytes = elements * tensor.ElementSize;
                if (bytes > reader.BaseStream.Length - reader.BaseStream.Position) throw Unreadable(path, $"the file ends inside tensor '{name}'.");
                tensor.bytes = reader.ReadBytes(checked((int)bytes));
            }
            if (reader.BaseStream.Position != reader.BaseStream.Length) throw Unreadable(path, "it has data after its last tensor.");
            return result;
        }
        catch
        {
            foreach (var tensor in result.Values) tensor.Dispose();
            throw;
        }
    }

    private static long Leb128(BinaryReader reader)
    {
        long value = 0;
        for (int shift = 0; shift < 63; shift += 7)
        {
            byte b = reader.ReadByte();
            value |= (long)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw new InvalidDataException("a LEB128 number is too long.");
    }
}
