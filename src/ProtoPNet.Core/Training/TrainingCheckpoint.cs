using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ProtoPNet.Model;
using ProtoPNet.Persistence;
using TorchSharp;
using ProtoPNet.Runtime;
using static TorchSharp.torch;

namespace ProtoPNet.Training;

/// <summary>The trainer's own state in a checkpoint (the model, optimizer and best weights are stored beside it).</summary>
public sealed record CheckpointState
{
    public int Seed { get; init; }
    public int CompletedEpochs { get; init; }
    /// <summary>Index of the phase whose optimizer state is stored.</summary>
    public int OptimizerPhase { get; init; }
    public int BatchSize { get; init; }
    public string[] Phases { get; init; } = [];
    public int? BestEpoch { get; init; }
    public double? BestValidationAccuracy { get; init; }
    public List<TrainingEpochResult> Results { get; init; } = new();
    /// <summary>The auxiliary pooled head's weight [K, C] and bias [K], row-major, when the run uses one.</summary>
    public float[]? AuxiliaryWeight { get; init; }
    public float[]? AuxiliaryBias { get; init; }
}

/// <summary>
/// A resumable stage-1 checkpoint, one file written atomically after every epoch:
/// <code>
/// "PTPNCKPT" | uint32 version | int64 payload length | payload | SHA-256(payload)
/// payload = state JSON | model file bytes (.ptpn) | Adam state | torch RNG state | best-epoch tensors
/// </code>
/// </summary>
public sealed class TrainingCheckpoint : IDisposable
{
    public const int FormatVersion = 1;
    private static readonly byte[] Magic = "PTPNCKPT"u8.ToArray();

    private TrainingCheckpoint(CheckpointState state, ProtoPNetModel model, byte[] optimizerState, Tensor? rngState, NetworkState? best)
    {
        State = state;
        Model = model;
        OptimizerState = optimizerState;
        RngState = rngState;
        Best = best;
    }

    public CheckpointState State { get; }
    /// <summary>The model as it was after <see cref="CheckpointState.CompletedEpochs"/> epochs.</summary>
    public ProtoPNetModel Model { get; }
    public byte[] OptimizerState { get; }
    public Tensor? RngState { get; }
    private NetworkState? Best { get; set; }

    /// <summary>Hands the best-epoch weights to the caller (who disposes them).</summary>
    public NetworkState? TakeBest()
    {
        var b = Best;
        Best = null;
        return b;
    }

    public static void Save(string path, ProtoPNetModel model, CheckpointState state, byte[] optimizerState, NetworkState? best, CancellationToken cancel)
    {
        byte[] payload;
        using (var buffer = new MemoryStream())
        {
            using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
            {
                WriteBlock(writer, JsonSerializer.SerializeToUtf8Bytes(state, ModelFile.Json));
                WriteBlock(writer, ModelFile.Serialize(model));
                WriteBlock(writer, optimizerState);
                using var rng = torch.get_rng_state();
                TensorIO.Write(writer, "rng", rng);
                var bestTensors = best?.Tensors ?? new Dictionary<string, Tensor>();
                writer.Write(bestTensors.Count);
                foreach (var (name, tensor) in bestTensors) TensorIO.Write(writer, name, tensor);
            }
            payload = buffer.ToArray();
        }
        byte[] checksum = SHA256.HashData(payload);
        AtomicFile.Write(path, stream =>
        {
            stream.Write(Magic);
            stream.Write(BitConverter.GetBytes(FormatVersion));
            stream.Write(BitConverter.GetBytes((long)payload.Length));
            stream.Write(payload);
            stream.Write(checksum);
        }, cancel);
    }

    private static void WriteBlock(BinaryWriter writer, byte[] bytes)
    {
        writer.Write(bytes.Length);
        writer.Write(bytes);
    }

    public static TrainingCheckpoint Load(string path)
    {
        if (!File.Exists(path))
            throw new ProtoPNetException("CheckpointNotFound", ErrorKind.ObjectNotFound, $"Checkpoint '{path}' does not exist.", path);
        byte[] file = File.ReadAllBytes(path);
        if (file.Length < 20 || !file.AsSpan(0, 8).SequenceEqual(Magic))
            throw Corrupt(path, "it does not start with the PTPNCKPT signature");
        int version = BitConverter.ToInt32(file, 8);
        if (version != FormatVersion) throw Corrupt(path, $"it has format version {version}; this module reads {FormatVersion}");
        long length = BitConverter.ToInt64(file, 12);
        if (length < 0 || file.Length != 20 + length + 32) throw Corrupt(path, "it is truncated or has extra bytes");
        var payload = file.AsSpan(20, (int)length);
        if (!SHA256.HashData(payload).AsSpan().SequenceEqual(file.AsSpan(20 + (int)length, 32))) throw Corrupt(path, "its checksum does not match");

        using var reader = new BinaryReader(new MemoryStream(file, 20, (int)length), Encoding.UTF8);
        var state = JsonSerializer.Deserialize<CheckpointState>(ReadBlock(reader), ModelFile.Json) ?? throw Corrupt(path, "its state is empty");
        var model = ModelFile.Load(new MemoryStream(ReadBlock(reader)), path);
        byte[] optimizer = ReadBlock(reader);
        var (_, rng) = TensorIO.Read(reader);
        int count = reader.ReadInt32();
        var best = new Dictionary<string, Tensor>();
        for (int i = 0; i < count; i++)
        {
            var (name, tensor) = TensorIO.Read(reader);
            best[name] = tensor;
        }
        return new TrainingCheckpoint(state, model, optimizer, rng, count > 0 ? NetworkState.FromTensors(best) : null);
    }

    private static byte[] ReadBlock(BinaryReader reader) => reader.ReadBytes(reader.ReadInt32());

    /// <summary>Copies the checkpoint's weights, provenance and history into <paramref name="target"/> after checking they belong together.</summary>
    public void ApplyTo(ProtoPNetModel target, TrainingOptions options, int totalEpochs)
    {
        if (!target.ClassNames.SequenceEqual(Model.ClassNames) || target.Architecture with { Normalization = null } != Model.Architecture with { Normalization = null }
            || !target.PrototypeClass.SequenceEqual(Model.PrototypeClass))
            throw new ProtoPNetException("CheckpointMismatch", ErrorKind.InvalidArgument,
                $"The checkpoint holds a {Model} model; it cannot resume training of {target}.", target.Name);
        if (State.BatchSize != options.BatchSize)
            throw new ProtoPNetException("CheckpointMismatch", ErrorKind.InvalidArgument,
                $"The checkpoint was trained with batch size {State.BatchSize}; resume with the same -BatchSize (not {options.BatchSize}).", options.BatchSize);
        if (State.CompletedEpochs > totalEpochs)
            throw new ProtoPNetException("CheckpointMismatch", ErrorKind.InvalidArgument,
                $"The checkpoint has already completed {State.CompletedEpochs} epochs, more than the {totalEpochs} asked for.", totalEpochs);
        using (var weights = NetworkState.Capture(Model.Network)) weights.Restore(target.Network);
        target.ReplaceProvenance(Model.Provenance.ToArray());
        target.History.Clear();
        target.History.AddRange(Model.History);
    }

    private static ProtoPNetException Corrupt(string path, string why) =>
        new("CorruptCheckpoint", ErrorKind.InvalidData, $"Checkpoint '{path}' cannot be used: {why}.", path);

    public void Dispose()
    {
        Model.Dispose();
        RngState?.Dispose();
        Best?.Dispose();
    }
}
