using System.Text;
using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Persistence;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ProtoPNet.Tests;

public sealed class PyTorchImportTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("ptpn-py-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void AuthorsStyleStateDictImportsWithInferredArchitectureAndPyTorchLogits()
    {
        using var model = PyTorchStateDictImport.Load(GoldenFileTests.GoldenPath("tiny-protopnet.pth"),
            new PyTorchImportOptions { ImageSize = 28, ClassNames = ["a", "b", "c"] });
        Assert.Equal("smallcnn", model.Architecture.Backbone);
        Assert.Equal(32, model.Architecture.PrototypeDepth);
        Assert.Equal(2, model.Architecture.PrototypeSize);
        Assert.Equal(AddOnKind.Bottleneck, model.Architecture.AddOn);
        Assert.Equal([0, 0, 1, 1, 2, 2], model.PrototypeClass);

        var expected = GoldenFileTests.LoadPickle("tiny-protopnet-expected.pth");
        model.Network.to(ScalarType.Float64);
        model.Network.eval();
        using var _ = torch.no_grad();
        using var input = expected["input"].to(ScalarType.Float64);
        using var output = model.Network.forward(input);
        GoldenFileTests.AssertClose(expected["logits"], output.Logits);
    }

    [Theory]
    [InlineData("resnet18", new[] { 2, 2, 2, 2 }, false)]
    [InlineData("resnet50", new[] { 3, 4, 6, 3 }, true)]
    [InlineData("resnet152", new[] { 3, 8, 36, 3 }, true)]
    public void RecognizesResNetsFromTheirKeys(string expected, int[] blocks, bool bottleneck)
    {
        var keys = new List<string> { "features.conv1.weight", "features.bn1.weight" };
        for (int l = 0; l < 4; l++)
            for (int b = 0; b < blocks[l]; b++)
            {
                keys.Add($"features.layer{l + 1}.{b}.conv1.weight");
                keys.Add($"features.layer{l + 1}.{b}.conv2.weight");
                if (bottleneck) keys.Add($"features.layer{l + 1}.{b}.conv3.weight");
            }
        Assert.Equal(expected, PyTorchStateDictImport.InferBackbone(keys, "x"));
    }

    [Fact]
    public void RecognizesVggAndDenseNetFromTheirKeys()
    {
        // vgg19: 16 convolutions at torchvision's indices; vgg19_bn adds a BatchNorm after each.
        int[] vgg19 = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34];
        var plain = vgg19.SelectMany(i => new[] { $"features.features.{i}.weight", $"features.features.{i}.bias" });
        Assert.Equal("vgg19", PyTorchStateDictImport.InferBackbone(plain, "x"));
        var bn = Enumerable.Range(0, 16).SelectMany(c => new[]
        {
            $"features.features.{c * 3}.weight", $"features.features.{c * 3}.bias",
            $"features.features.{c * 3 + 1}.weight", $"features.features.{c * 3 + 1}.bias", $"features.features.{c * 3 + 1}.running_mean",
        });
        Assert.Equal("vgg19_bn", PyTorchStateDictImport.InferBackbone(bn, "x"));
        int[] dense121 = [6, 12, 24, 16];
        var dense = dense121.SelectMany((n, b) => Enumerable.Range(1, n).Select(l => $"features.features.denseblock{b + 1}.denselayer{l}.conv1.weight"));
        Assert.Equal("densenet121", PyTorchStateDictImport.InferBackbone(dense, "x"));
        Assert.Equal("UnknownBackboneKeys", Assert.Throws<ProtoPNetException>(() => PyTorchStateDictImport.InferBackbone(["features.mystery.weight"], "x")).ErrorId);
    }

    private static void WriteNpy(string path, long[,] rows)
    {
        int n = rows.GetLength(0), c = rows.GetLength(1);
        string header = $"{{'descr': '<i8', 'fortran_order': False, 'shape': ({n}, {c}), }}";
        header = header.PadRight(118 - 1) + "\n"; // magic (6) + version (2) + length (2) + header = 128 bytes
        using var w = new BinaryWriter(File.Create(path));
        w.Write((byte)0x93); w.Write(Encoding.ASCII.GetBytes("NUMPY")); w.Write((byte)1); w.Write((byte)0);
        w.Write((ushort)header.Length); w.Write(Encoding.ASCII.GetBytes(header));
        foreach (long v in rows) w.Write(v);
    }

    [Fact]
    public void AuthorsPushRecordsBecomeProvenanceWithBoxesInTheSourceImagesPixels()
    {
        using var model = ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = "smallcnn", ImageSize = 28 }, ["a", "b"], prototypesPerClass: 1);
        string npy = Path.Combine(dir, "bb10.npy");
        WriteNpy(npy, new long[,] { { 1, 7, 14, 0, 28, 0 }, { -1, -1, -1, -1, -1, -1 } });
        // A push set of 56×56 images: boxes found at 28×28 input scale double in the source pixels.
        using var images = torch.rand(3, 3, 56, 56);
        var push = new TensorDataset("push", images, [0, 0, 1], ["a", "b"]);
        Assert.Equal(1, AuthorsPushRecords.Attach(model, npy, push));
        var p = model.Provenance[0]!;
        Assert.Equal("push#1", p.SourceImage);
        Assert.Equal((0, 14, 56, 14), (p.BoxX, p.BoxY, p.BoxWidth, p.BoxHeight));
        Assert.Null(model.Provenance[1]);

        WriteNpy(npy, new long[,] { { 0, 0, 1, 0, 1, 0 } });
        Assert.Equal("PushRecordsMismatch", Assert.Throws<ProtoPNetException>(() => AuthorsPushRecords.Attach(model, npy, null)).ErrorId);
    }
}
