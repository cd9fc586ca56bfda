using ProtoPNet.Runtime;
using ProtoPNet.Model;
using ProtoPNet.Persistence;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ProtoPNet.Tests;

public sealed class ModelFileTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("ptpn-file-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static ProtoPNetModel SmallModel(int seed = 3) =>
        ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = "smallcnn", ImageSize = 28, PrototypeSize = 2 },
            ["shirt", "shoe", "bag"], prototypesPerClass: 2, seed: seed);

    private static float[] Logits(ProtoPNetModel model, Tensor input)
    {
        model.Network.eval();
        using var _ = torch.no_grad();
        using var output = model.Network.forward(input);
        return output.Logits.data<float>().ToArray();
    }

    [Fact]
    public void ExportThenImportGivesBitIdenticalLogitsAndMetadata()
    {
        using var model = SmallModel();
        model.Name = "round-trip";
        model.SetProvenance(4, new PrototypeProvenance { SourceImage = "/data/a.png", LatentRow = 2, LatentColumn = 3, BoxX = 1, BoxY = 2, BoxWidth = 5, BoxHeight = 6, Distance = 0.25 });
        model.History.Add(new HistoryEntry { Stage = "Test", Values = { ["Accuracy"] = 0.5 } });
        // Train-mode batch statistics must not leak into the comparison: move BN running stats off their init values.
        model.Network.train();
        using (var warm = torch.rand(4, 3, 28, 28)) model.Network.forward(warm).Dispose();
        string path = Path.Combine(dir, "m.ptpn");
        ModelFile.Save(model, path);
        using var loaded = ModelFile.Load(path);

        using var input = torch.rand(5, 3, 28, 28);
        Assert.Equal(Logits(model, input), Logits(loaded, input));
        Assert.Equal(model.ClassNames, loaded.ClassNames);
        Assert.Equal(model.PrototypeClass, loaded.PrototypeClass);
        Assert.Equal(model.Architecture, loaded.Architecture);
        Assert.Equal("round-trip", loaded.Name);
        Assert.Equal(model.Provenance[4], loaded.Provenance[4]);
        Assert.Null(loaded.Provenance[0]);
        Assert.Equal(0.5, loaded.History.Single().Values["Accuracy"]);
        foreach (var (name, tensor) in model.Network.state_dict())
            Assert.True(tensor.eq(loaded.Network.state_dict()[name]).all().item<bool>(), name);
    }

    [Fact]
    public void InferenceGivesEveryModuleBackItsMode()
    {
        using var model = SmallModel();
        // A warm-phase mix: the network trains, its frozen backbone (and its batch norms) stays in eval mode.
        model.Network.train();
        model.Network.Backbone.eval();
        var before = model.Network.modules().Select(m => m.training).ToArray();
        using (var input = torch.rand(2, 3, 28, 28))
        using (var logits = model.Logits(input))
            Assert.Equal(new long[] { 2, 3 }, logits.shape);
        Assert.Equal(before, model.Network.modules().Select(m => m.training).ToArray());
        Assert.True(model.Network.training);
        Assert.False(model.Network.Backbone.training);
    }

    [Fact]
    public void SavingTwiceGivesIdenticalTensorBytes()
    {
        using var model = SmallModel();
        string a = Path.Combine(dir, "a.ptpn"), b = Path.Combine(dir, "b.ptpn");
        ModelFile.Save(model, a);
        using var loaded = ModelFile.Load(a);
        ModelFile.Save(loaded, b);
        // Same header (same history, no timestamps added by save) and same tensors: the files are byte-identical.
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
    }

    [Fact]
    public void FlippedByteIsRefusedAsCorrupt()
    {
        using var model = SmallModel();
        string path = Path.Combine(dir, "m.ptpn");
        ModelFile.Save(model, path);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<ProtoPNetException>(() => ModelFile.Load(path));
        Assert.Equal("CorruptModelFile", e.ErrorId);
    }

    [Fact]
    public void TruncatedFileIsRefused()
    {
        using var model = SmallModel();
        string path = Path.Combine(dir, "m.ptpn");
        ModelFile.Save(model, path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);
        Assert.Equal("TruncatedModelFile", Assert.Throws<ProtoPNetException>(() => ModelFile.Load(path)).ErrorId);
        File.WriteAllBytes(path, bytes[..12]);
        Assert.Equal("TruncatedModelFile", Assert.Throws<ProtoPNetException>(() => ModelFile.Load(path)).ErrorId);
    }

    [Fact]
    public void ForeignAndEmptyFilesAreRefused()
    {
        string path = Path.Combine(dir, "random.ptpn");
        var bytes = new byte[4096];
        new Random(1).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        Assert.Equal("NotAProtoPNetFile", Assert.Throws<ProtoPNetException>(() => ModelFile.Load(path)).ErrorId);
        File.WriteAllBytes(path, []);
        Assert.Equal("NotAProtoPNetFile", Assert.Throws<ProtoPNetException>(() => ModelFile.Load(path)).ErrorId);
    }

    [Fact]
    public void NewerFormatVersionIsRefusedWithAnUpgradeHint()
    {
        using var model = SmallModel();
        string path = Path.Combine(dir, "m.ptpn");
        ModelFile.Save(model, path);
        var bytes = File.ReadAllBytes(path);
        BitConverter.GetBytes(ModelFile.FormatVersion + 1).CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        Assert.Equal("UnsupportedModelFileVersion", Assert.Throws<ProtoPNetException>(() => ModelFile.Load(path)).ErrorId);
    }

    [Fact]
    public void FailedWriteLeavesTheOldFileIntactAndNoTemporaryFile()
    {
        string path = Path.Combine(dir, "keep.bin");
        File.WriteAllText(path, "old contents");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[1000]);
            throw new InvalidOperationException("simulated crash mid-write");
        }));
        Assert.Equal("old contents", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir));

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => AtomicFile.Write(path, s => s.Write(new byte[10]), cancelled.Token));
        Assert.Equal("old contents", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir));
    }

    [Fact]
    public void ExportRemovesTheTemporaryFilesOfKilledWritersButNotOfLiveOnes()
    {
        using var model = SmallModel();
        string path = Path.Combine(dir, "crashed.ptpn");
        ModelFile.Save(model, path);
        byte[] before = File.ReadAllBytes(path);
        // A writer killed mid-write leaves its temporary file, closed (the kernel drops its lock), and the target intact.
        string stale = AtomicFile.TemporaryPath(path, Guid.NewGuid());
        File.WriteAllBytes(stale, new byte[4096]);
        // A writer still writing holds its temporary file exclusively.
        string live = AtomicFile.TemporaryPath(path, Guid.NewGuid());
        using var liveWriter = new FileStream(live, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        liveWriter.Write(new byte[100]);
        // Another target's temporary file and an unrelated hidden file are none of this write's business.
        string otherTarget = AtomicFile.TemporaryPath(Path.Combine(dir, "other.ptpn"), Guid.NewGuid());
        File.WriteAllBytes(otherTarget, [1]);
        string unrelated = Path.Combine(dir, ".crashed.ptpn.notes.tmp");
        File.WriteAllBytes(unrelated, [2]);

        ModelFile.Save(model, path);

        Assert.False(File.Exists(stale), "the killed writer's temporary file is removed by the next write");
        Assert.True(File.Exists(live), "a live writer's temporary file is left alone");
        Assert.True(File.Exists(otherTarget));
        Assert.True(File.Exists(unrelated));
        Assert.Equal(before, File.ReadAllBytes(path));
        liveWriter.Dispose();
        Assert.Equal(1, AtomicFile.RemoveStaleTemporaries(path));           // once its writer is gone, it is stale too
        Assert.False(File.Exists(live));
    }
}
