using ProtoPNet.Model.Backbones;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;
using static TorchSharp.torch;

namespace ProtoPNet.Tests;

public sealed class WeightsTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("protopnet-weights-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private string PathOf(string name) => Path.Combine(directory, name);

    /// <summary>A state dict with every tensor of <paramref name="name"/> random (buffers included), plus a classifier head.</summary>
    private static Dictionary<string, Tensor> RandomStateDict(string name, int seed)
    {
        torch.manual_seed(seed);
        using var backbone = BackboneFactory.Create(name);
        var result = new Dictionary<string, Tensor>();
        foreach (var (key, value) in backbone.state_dict())
            result[key] = value.dtype == ScalarType.Int64 ? torch.tensor(seed + 7L) : torch.randn(value.shape);
        result["fc.weight"] = torch.randn(10, 4);
        result["fc.bias"] = torch.randn(10);
        return result;
    }

    private static void Write(string format, string path, Dictionary<string, Tensor> stateDict)
    {
        switch (format)
        {
            case "pth": PyTorchPickler.PickleStateDict(path, stateDict); break;
            case "safetensors": Safetensors.SaveStateDict(path, stateDict); break;
            case "dat":
                using (var writer = new BinaryWriter(File.Create(path))) nn.Module.save_state_dict(writer, stateDict, null);
                break;
        }
    }

    private static void AssertBitExact(Dictionary<string, Tensor> expected, nn.Module module)
    {
        foreach (var (key, actual) in module.state_dict())
            Assert.True(expected[key].bytes.SequenceEqual(actual.bytes), $"tensor {key} differs");
    }

    [Theory]
    [InlineData("resnet18", "pth")]
    [InlineData("resnet18", "safetensors")]
    [InlineData("resnet18", "dat")]
    [InlineData("smallcnn", "pth")]
    [InlineData("smallcnn", "safetensors")]
    public void WeightsRoundTripBitExact(string name, string format)
    {
        var stateDict = RandomStateDict(name, seed: 11);
        string file = PathOf($"{name}.{format}");
        Write(format, file, stateDict);
        using var backbone = BackboneFactory.Create(name);

        var report = BackboneWeights.Load(backbone, file);

        AssertBitExact(stateDict, backbone);
        Assert.Equal(backbone.state_dict().Count, report.Loaded.Count);
        Assert.Empty(report.Missing);
        Assert.Equal(["fc.bias", "fc.weight"], report.Unexpected);
    }

    /// <summary>conv1 + bn1 under ResNet's names: the model Fixtures/make_fixtures.py wrote files for.</summary>
    private sealed class TinyBackbone : Backbone
    {
        private readonly TorchSharp.Modules.Conv2d conv1 = nn.Conv2d(3, 4, 3, bias: false);
        private readonly TorchSharp.Modules.BatchNorm2d bn1 = nn.BatchNorm2d(4);

        public TinyBackbone() : base("tiny") => RegisterComponents();
        public override int OutChannels => 4;
        public override int FeatureMapSize(int imageSize) => imageSize - 2;
        public override ReceptiveField ReceptiveField => new(3, 1, 1);
        public override Tensor forward(Tensor input) => bn1.forward(conv1.forward(input));
    }

    /// <summary>
    /// Files laid out byte for byte as torch.save and safetensors' save_file write them (generated without either
    /// library by Fixtures/make_fixtures.py), so that real torchvision downloads are known to load.
    /// </summary>
    [Theory]
    [InlineData("tiny-torch.pth")]
    [InlineData("tiny.safetensors")]
    public void FilesAsPyTorchWritesThemLoad(string fixture)
    {
        using var backbone = new TinyBackbone();

        var report = BackboneWeights.Load(backbone, Path.Combine(AppContext.BaseDirectory, "Fixtures", fixture));

        Assert.Equal(["fc.bias", "fc.weight"], report.Unexpected);
        Assert.Equal(6, report.Loaded.Count);
        foreach (var (name, tensor) in backbone.state_dict())
        {
            if (name.EndsWith("num_batches_tracked")) { Assert.Equal(42L, tensor.item<long>()); continue; }
            var expected = Enumerable.Range(0, (int)tensor.numel()).Select(k => (float)((k * 31 + name.Length) % 1000 / 1000.0));
            Assert.Equal(expected, tensor.data<float>().ToArray());
        }
    }

    [Fact]
    public void DenseNetFilesWithTorchvisionsOldLayerNamesLoad()
    {
        var stateDict = RandomStateDict("densenet121", seed: 5);
        // torchvision's densenet121-a639ec97.pth spells 'norm1' as 'norm.1', 'conv2' as 'conv.2'.
        var old = stateDict.ToDictionary(
            kv => System.Text.RegularExpressions.Regex.Replace(kv.Key, @"(denselayer\d+\.(norm|conv))([12])\.", "$1.$3."), kv => kv.Value);
        Assert.Contains("features.denseblock1.denselayer1.norm.1.weight", old.Keys);
        string file = PathOf("densenet121.safetensors");
        Write("safetensors", file, old);
        using var backbone = BackboneFactory.Create("densenet121");

        var report = BackboneWeights.Load(backbone, file);

        AssertBitExact(stateDict, backbone);
        Assert.Equal(725, report.Loaded.Count);
    }

    [Fact]
    public void TheAuthorsWholeNetworkStateDictLoadsThroughItsFeaturesPrefix()
    {
        var stateDict = RandomStateDict("smallcnn", seed: 2);
        var whole = stateDict.Where(kv => !kv.Key.StartsWith("fc.")).ToDictionary(kv => "features." + kv.Key, kv => kv.Value);
        whole["prototype_vectors"] = torch.rand(20, 128, 1, 1);
        string file = PathOf("ppnet.pth");
        Write("pth", file, whole);
        using var backbone = BackboneFactory.Create("smallcnn");

        var report = BackboneWeights.Load(backbone, file);

        AssertBitExact(stateDict, backbone);
        Assert.Equal(["prototype_vectors"], report.Unexpected);
    }

    [Fact]
    public void FilesWithoutBatchNormCountersLoadAsPyTorchLoadsThem()
    {
        // torchvision's older ImageNet files predate num_batches_tracked.
        var stateDict = RandomStateDict("smallcnn", seed: 4);
        foreach (var key in stateDict.Keys.Where(k => k.EndsWith("num_batches_tracked")).ToList()) stateDict.Remove(key);
        string file = PathOf("old.safetensors");
        Write("safetensors", file, stateDict);
        using var backbone = BackboneFactory.Create("smallcnn");

        var report = BackboneWeights.Load(backbone, file);

        Assert.Empty(report.Missing);
        Assert.Equal(backbone.state_dict()["features.conv1.weight"].bytes.ToArray(), stateDict["features.conv1.weight"].bytes.ToArray());
    }

    [Theory]
    [InlineData("pth")]
    [InlineData("safetensors")]
    public void AFileMissingATensorIsRefusedNamingIt(string format)
    {
        var stateDict = RandomStateDict("smallcnn", seed: 6);
        stateDict.Remove("features.bn3.running_var");
        string file = PathOf($"missing.{format}");
        Write(format, file, stateDict);
        using var backbone = BackboneFactory.Create("smallcnn");
        var before = backbone.state_dict()["features.conv1.weight"].clone();

        var error = Assert.Throws<ProtoPNetException>(() => BackboneWeights.Load(backbone, file));

        Assert.Equal("WeightsMissingTensor", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidData, error.Kind);
        Assert.Contains("features.bn3.running_var", error.Message);
        Assert.True(before.bytes.SequenceEqual(backbone.state_dict()["features.conv1.weight"].bytes), "a refused file must leave the backbone as it was");
    }

    [Fact]
    public void AMissingTensorIsReportedWhenAllowed()
    {
        var stateDict = RandomStateDict("smallcnn", seed: 6);
        stateDict.Remove("features.conv4.weight");
        string file = PathOf("missing.safetensors");
        Write("safetensors", file, stateDict);
        using var backbone = BackboneFactory.Create("smallcnn");

        var report = BackboneWeights.Load(backbone, file, allowMissing: true);

        Assert.Equal(["features.conv4.weight"], report.Missing);
    }

    [Theory]
    [InlineData("pth")]
    [InlineData("safetensors")]
    [InlineData("dat")]
    public void AMisshapedTensorIsRefusedNamingItAndBothShapes(string format)
    {
        var stateDict = RandomStateDict("smallcnn", seed: 8);
        stateDict["features.conv2.weight"] = torch.randn(32, 32, 3, 2);
        string file = PathOf($"misshaped.{format}");
        Write(format, file, stateDict);
        using var backbone = BackboneFactory.Create("smallcnn");

        var error = Assert.Throws<ProtoPNetException>(() => BackboneWeights.Load(backbone, file));

        Assert.Equal("WeightShapeMismatch", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidData, error.Kind);
        Assert.Contains("'features.conv2.weight'", error.Message);
        Assert.Contains("[32, 32, 3, 3]", error.Message);
        Assert.Contains("[32, 32, 3, 2]", error.Message);
    }

    [Fact]
    public void ALegacyPickleFileIsRefusedSayingHowToConvertIt()
    {
        string file = PathOf("legacy.pth");
        // What torch.save wrote before PyTorch 1.6: pickle protocol 2 starting with the magic number 0x1950a86a20f9469cfc6c.
        File.WriteAllBytes(file, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e, 0x80]);
        using var backbone = BackboneFactory.Create("smallcnn");

        var error = Assert.Throws<ProtoPNetException>(() => BackboneWeights.Load(backbone, file));

        Assert.Equal("LegacyPthFormat", error.ErrorId);
        Assert.Contains("torch.save(torch.load(", error.Message);
    }

    [Theory]
    [InlineData("random")]
    [InlineData("truncated-pth")]
    [InlineData("truncated-safetensors")]
    [InlineData("truncated-dat")]
    [InlineData("empty")]
    [InlineData("huge-safetensors")]
    public void AnUnreadableFileIsRefused(string kind)
    {
        string file = PathOf("bad.bin");
        if (kind == "random") File.WriteAllBytes(file, Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 % 251)).ToArray());
        else if (kind == "empty") File.WriteAllBytes(file, []);
        else if (kind == "huge-safetensors")
        {
            // A header promising a 40 TB tensor in a file of a few bytes: refused before any allocation.
            var header = System.Text.Encoding.UTF8.GetBytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[100000,100000,1000],\"data_offsets\":[0,40000000000000]}}");
            File.WriteAllBytes(file, [.. BitConverter.GetBytes((long)header.Length), .. header, 1, 2, 3, 4]);
        }
        else
        {
            Write(kind["truncated-".Length..], file, RandomStateDict("smallcnn", seed: 9));
            var bytes = File.ReadAllBytes(file);
            File.WriteAllBytes(file, bytes[..(bytes.Length * 2 / 3)]);
        }
        using var backbone = BackboneFactory.Create("smallcnn");

        var error = Assert.Throws<ProtoPNetException>(() => BackboneWeights.Load(backbone, file));

        Assert.Equal("WeightsFileUnreadable", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidData, error.Kind);
    }
}
