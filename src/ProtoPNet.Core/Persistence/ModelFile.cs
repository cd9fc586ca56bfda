using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using ProtoPNet.Model;
using ProtoPNet.Model.Backbones;
using TorchSharp;
using ProtoPNet.Runtime;
using static TorchSharp.torch;

namespace ProtoPNet.Persistence;

/// <summary>
/// The one-file model format (.ptpn):
/// <code>
/// "PTPNMODL" | uint32 format version | int64 payload length | payload | SHA-256(payload)
/// payload = int32 header length | header JSON (architecture, classes, prototypes, provenance, history)
///         | int32 tensor count | tensors (name, dtype, shape, raw bytes)
/// </code>
/// The checksum and length are verified before anything is parsed, so truncated, corrupted and foreign
/// files are refused with a stable error id instead of failing somewhere inside deserialization.
/// Version 2 adds ensembles (Join-ProtoPNet); single models are still written as version 1 so older readers read them:
/// <code>
/// ensemble payload = int32 header length | header JSON {"Kind":"ensemble", Name, Members} | int32 member count
///                  | per member: int64 length | a version-1 model payload
/// </code>
/// </summary>
public static class ModelFile
{
    /// <summary>The newest format this module reads and writes (2: ensembles).</summary>
    public const int FormatVersion = 2;
    /// <summary>Single models are written as version 1, which they still are byte for byte, so older modules keep reading them.</summary>
    public const int ModelFormatVersion = 1;
    public const int EnsembleFormatVersion = 2;
    private static readonly byte[] Magic = "PTPNMODL"u8.ToArray();
    private const int PrefixLength = 8 + 4 + 8;
    private const int ChecksumLength = 32;

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = false,
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private sealed record Header
    {
        public string Kind { get; init; } = "model";
        public required string Name { get; init; }
        public required ProtoPNetArchitecture Architecture { get; init; }
        public required string[] ClassNames { get; init; }
        public required int[] PrototypeClass { get; init; }
        public required PrototypeProvenance?[] Provenance { get; init; }
        public required List<HistoryEntry> History { get; init; }
        public string Library { get; init; } = typeof(ModelFile).Assembly.GetName().Version?.ToString() ?? "";
    }

    public static void Save(ProtoPNetModel model, string path, CancellationToken cancel = default)
    {
        byte[] bytes = Serialize(model);
        AtomicFile.Write(path, stream => stream.Write(bytes), cancel);
    }

    /// <summary>The complete file contents for <paramref name="model"/>; checkpoints embed them.</summary>
    public static byte[] Serialize(ProtoPNetModel model) => FileBytes(ModelFormatVersion, ModelPayload(model));

    /// <summary>Saves an ensemble and all its members in one file (format version 2).</summary>
    public static void Save(ProtoPNetEnsemble ensemble, string path, CancellationToken cancel = default)
    {
        byte[] bytes = Serialize(ensemble, cancel);
        AtomicFile.Write(path, stream => stream.Write(bytes), cancel);
    }

    /// <summary>Saves a model or an ensemble.</summary>
    public static void Save(IClassifier classifier, string path, CancellationToken cancel = default)
    {
        switch (classifier)
        {
            case ProtoPNetModel m: Save(m, path, cancel); break;
            case ProtoPNetEnsemble e: Save(e, path, cancel); break;
            default: throw new ArgumentException($"Cannot save a {classifier.GetType().Name}.", nameof(classifier));
        }
    }

    /// <summary>The complete file contents for an ensemble: its members' model payloads in one file.</summary>
    public static byte[] Serialize(ProtoPNetEnsemble ensemble, CancellationToken cancel = default)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(new EnsembleHeader { Name = ensemble.Name, Members = ensemble.MemberNames.ToArray() }, Json);
            writer.Write(json.Length);
            writer.Write(json);
            writer.Write(ensemble.Members.Count);
            foreach (var member in ensemble.Members)
            {
                cancel.ThrowIfCancellationRequested();
                byte[] memberPayload = ModelPayload(member);
                writer.Write((long)memberPayload.Length);
                writer.Write(memberPayload);
            }
        }
        return FileBytes(EnsembleFormatVersion, buffer.ToArray());
    }

    private sealed record EnsembleHeader
    {
        public string Kind { get; init; } = "ensemble";
        public required string Name { get; init; }
        public required string[] Members { get; init; }
    }

    private sealed record KindProbe
    {
        public string Kind { get; init; } = "model";
    }

    private static byte[] ModelPayload(ProtoPNetModel model)
    {
        var header = new Header
        {
            Name = model.Name,
            Architecture = model.Architecture,
            ClassNames = model.ClassNames.ToArray(),
            PrototypeClass = model.PrototypeClass.ToArray(),
            Provenance = model.Provenance.ToArray(),
            History = model.History,
        };
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(header, Json);
            writer.Write(json.Length);
            writer.Write(json);
            lock (model.SyncRoot)
            {
                var state = model.Network.state_dict();
                writer.Write(state.Count);
                foreach (var (name, tensor) in state) writer.Write(name, tensor);
            }
        }
        return buffer.ToArray();
    }

    private static byte[] FileBytes(int version, byte[] payload)
    {
        byte[] checksum = SHA256.HashData(payload);
        using var file = new MemoryStream(PrefixLength + payload.Length + ChecksumLength);
        file.Write(Magic);
        file.Write(BitConverter.GetBytes(version));
        file.Write(BitConverter.GetBytes((long)payload.Length));
        file.Write(payload);
        file.Write(checksum);
        return file.ToArray();
    }

    private static void Write(this BinaryWriter writer, string name, Tensor tensor) => TensorIO.Write(writer, name, tensor);

    /// <summary>Loads a single model; an ensemble file is refused with ModelFileIsEnsemble (use <see cref="LoadAny(string, string?)"/>).</summary>
    public static ProtoPNetModel Load(string path, string? device = null) => AsModel(LoadAny(path, device), path);

    /// <summary>Reads a model from the bytes of a model file; <paramref name="path"/> only names it in errors.</summary>
    public static ProtoPNetModel Load(Stream stream, string path, string? device = null) => AsModel(LoadAny(stream, path, device), path);

    private static ProtoPNetModel AsModel(IClassifier classifier, string path) =>
        classifier as ProtoPNetModel
        ?? throw new ProtoPNetException("ModelFileIsEnsemble", ErrorKind.InvalidArgument, $"'{path}' holds an ensemble, not a single model.", path);

    /// <summary>Loads whatever the file holds: a <see cref="ProtoPNetModel"/> or a <see cref="ProtoPNetEnsemble"/>.</summary>
    public static IClassifier LoadAny(string path, string? device = null)
    {
        if (!File.Exists(path))
            throw new ProtoPNetException("ModelFileNotFound", ErrorKind.ObjectNotFound, $"Model file '{path}' does not exist.", path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return LoadAny(stream, path, device);
    }

    public static IClassifier LoadAny(Stream stream, string path, string? device = null)
    {
        byte[] payload = ReadVerifiedPayload(stream, path);
        string kind;
        try
        {
            using var reader = new BinaryReader(new MemoryStream(payload), Encoding.UTF8);
            kind = JsonSerializer.Deserialize<KindProbe>(reader.ReadBytes(reader.ReadInt32()), Json)?.Kind ?? "model";
        }
        catch (Exception e) when (e is JsonException or EndOfStreamException or ArgumentException or OverflowException)
        {
            throw Corrupt(path, $"its header cannot be read ({e.Message})", e);
        }
        return kind switch
        {
            "model" => ReadModel(payload, path, device),
            "ensemble" => ReadEnsemble(payload, path, device),
            _ => throw new ProtoPNetException("UnsupportedModelFileVersion", ErrorKind.InvalidData,
                $"'{path}' holds a '{kind}', which this module does not know. Update the module.", path),
        };
    }

    private static ProtoPNetEnsemble ReadEnsemble(byte[] payload, string path, string? device)
    {
        EnsembleHeader header;
        var memberPayloads = new List<byte[]>();
        try
        {
            using var reader = new BinaryReader(new MemoryStream(payload), Encoding.UTF8);
            header = JsonSerializer.Deserialize<EnsembleHeader>(reader.ReadBytes(reader.ReadInt32()), Json) ?? throw new InvalidDataException("empty header");
            int count = reader.ReadInt32();
            if (count != header.Members.Length) throw new InvalidDataException($"{count} members stored, {header.Members.Length} named");
            for (int i = 0; i < count; i++)
            {
                long length = reader.ReadInt64();
                if (length < 0 || length > payload.Length) throw new InvalidDataException($"member {i} claims {length} bytes");
                memberPayloads.Add(reader.ReadBytes((int)length));
            }
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or EndOfStreamException or ArgumentException or OverflowException)
        {
            throw Corrupt(path, $"its ensemble contents cannot be read ({e.Message})", e);
        }
        var members = new List<ProtoPNetModel>();
        for (int i = 0; i < memberPayloads.Count; i++)
        {
            var member = ReadModel(memberPayloads[i], path, device);
            member.Name = header.Members[i];
            members.Add(member);
        }
        return new ProtoPNetEnsemble(members, header.Name);
    }

    private static ProtoPNetModel ReadModel(byte[] payload, string path, string? device)
    {
        Header header;
        var tensors = new Dictionary<string, Tensor>();
        try
        {
            using var reader = new BinaryReader(new MemoryStream(payload), Encoding.UTF8);
            int jsonLength = reader.ReadInt32();
            header = JsonSerializer.Deserialize<Header>(reader.ReadBytes(jsonLength), Json)
                     ?? throw new InvalidDataException("empty header");
            int count = reader.ReadInt32();
            for (int i = 0; i < count; i++)
            {
                var (name, tensor) = TensorIO.Read(reader);
                tensors[name] = tensor;
            }
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or EndOfStreamException or ArgumentException or OverflowException)
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw Corrupt(path, $"its contents cannot be read ({e.Message})", e);
        }

        try
        {
            var dev = Devices.Resolve(device);
            var model = ProtoPNetModel.FromParts(header.Architecture, header.ClassNames, header.PrototypeClass);
            model.Name = header.Name;
            try
            {
                CopyState(model.Network, tensors, path);
            }
            catch
            {
                model.Dispose();
                throw;
            }
            if (dev.type != DeviceType.CPU) model.MoveTo(device!);
            model.ReplaceProvenance(header.Provenance.Length == header.PrototypeClass.Length
                ? header.Provenance
                : throw Corrupt(path, "its provenance list does not match its prototypes", null));
            model.History.AddRange(header.History);
            return model;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    private static void CopyState(ProtoPNetNetwork network, Dictionary<string, Tensor> tensors, string path)
    {
        var state = network.state_dict();
        var missing = state.Keys.Where(k => !tensors.ContainsKey(k)).ToList();
        var unexpected = tensors.Keys.Where(k => !state.ContainsKey(k)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw Corrupt(path, $"its tensors do not match its architecture (missing: {string.Join(", ", missing)}; unexpected: {string.Join(", ", unexpected)})", null);
        using var _ = torch.no_grad();
        foreach (var (name, target) in state)
        {
            var source = tensors[name];
            if (!source.shape.SequenceEqual(target.shape) || source.dtype != target.dtype)
                throw Corrupt(path, $"tensor '{name}' has shape [{string.Join(",", source.shape)}] {source.dtype}, the architecture needs [{string.Join(",", target.shape)}] {target.dtype}", null);
            target.copy_(source);
        }
    }

    /// <summary>Reads the file and checks magic, version, length and checksum; returns the payload.</summary>
    private static byte[] ReadVerifiedPayload(Stream stream, string path)
    {
        var prefix = new byte[PrefixLength];
        int read = stream.ReadAtLeast(prefix, PrefixLength, throwOnEndOfStream: false);
        if (read < Magic.Length || !prefix.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new ProtoPNetException("NotAProtoPNetFile", ErrorKind.InvalidData,
                $"'{path}' is not a ProtoPNet.PS model file (it does not start with the PTPNMODL signature).", path);
        if (read < PrefixLength)
            throw Truncated(path, stream.Length);
        int version = BitConverter.ToInt32(prefix, 8);
        if (version < 1 || version > FormatVersion)
            throw new ProtoPNetException("UnsupportedModelFileVersion", ErrorKind.InvalidData,
                $"'{path}' is a ProtoPNet.PS model file of format version {version}; this module reads versions 1 to {FormatVersion}. Update the module.", path);
        long length = BitConverter.ToInt64(prefix, 12);
        if (length < 0 || stream.Length < PrefixLength + length + ChecksumLength)
            throw Truncated(path, stream.Length);
        if (stream.Length > PrefixLength + length + ChecksumLength)
            throw Corrupt(path, "it has bytes after its end", null);
        var payload = new byte[length];
        stream.ReadExactly(payload);
        var checksum = new byte[ChecksumLength];
        stream.ReadExactly(checksum);
        if (!SHA256.HashData(payload).AsSpan().SequenceEqual(checksum))
            throw Corrupt(path, "its SHA-256 checksum does not match its contents", null);
        return payload;
    }

    private static ProtoPNetException Truncated(string path, long size) =>
        new("TruncatedModelFile", ErrorKind.InvalidData,
            $"Model file '{path}' is truncated ({size} bytes): it was not completely written or copied.", path);

    private static ProtoPNetException Corrupt(string path, string why, Exception? inner) =>
        new("CorruptModelFile", ErrorKind.InvalidData, $"Model file '{path}' is corrupted: {why}.", path, inner);
}
