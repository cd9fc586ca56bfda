using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ProtoPNet.Model.Backbones;

/// <summary>
/// torchvision's DenseNet-BC (Huang et al. 2017) without its classifier, written here because TorchVision for .NET
/// has none. Parameter names are torchvision's: <c>features.conv0</c>, <c>features.norm0</c>,
/// <c>features.denseblock1.denselayer1.norm1/conv1/norm2/conv2</c>, <c>features.transition1.norm/conv</c>,
/// <c>features.norm5</c>. As in the ProtoPNet authors' code, the final norm5 and its ReLU belong to the features.
/// 7×7 feature map at 224×224.
/// </summary>
public sealed class DenseNet : Backbone
{
    private static readonly Dictionary<int, (int Growth, int[] Blocks, int InitialFeatures)> Configurations = new()
    {
        [121] = (32, [6, 12, 24, 16], 64),
        [161] = (48, [6, 12, 36, 24], 96),
        [169] = (32, [6, 12, 32, 32], 64),
        [201] = (32, [6, 12, 48, 32], 64),
    };

    private readonly Sequential features;
    private readonly ConvStep[] path;

    /// <param name="depth">121, 161, 169 or 201.</param>
    public DenseNet(int depth) : base($"densenet{depth}")
    {
        if (!Configurations.TryGetValue(depth, out var configuration))
            throw new ArgumentOutOfRangeException(nameof(depth), depth, "DenseNet depth must be 121, 161, 169 or 201.");
        var (growth, blocks, channels) = configuration;
        var steps = new List<ConvStep> { new(7, 2, 3), new(3, 2, 1) };
        var layers = new List<(string, Module<Tensor, Tensor>)>
        {
            ("conv0", MixedPrecisionConv2d.Create(3, channels, 7, stride: 2, padding: 3, bias: false)),
            ("norm0", ScalarSafeBatchNorm2d.Create(channels)),
            ("relu0", ReLU(inplace: true)),
            ("pool0", MaxPool2d(3, 2, 1)),
        };
        for (int b = 0; b < blocks.Length; b++)
        {
            layers.Add(($"denseblock{b + 1}", new DenseBlock(blocks[b], channels, growth)));
            for (int i = 0; i < blocks[b]; i++) steps.AddRange([new(1), new(3, 1, 1)]);
            channels += blocks[b] * growth;
            if (b == blocks.Length - 1) break;
            layers.Add(($"transition{b + 1}", Sequential(
                ("norm", ScalarSafeBatchNorm2d.Create(channels)), ("relu", ReLU(inplace: true)),
                ("conv", MixedPrecisionConv2d.Create(channels, channels / 2, 1, bias: false)), ("pool", AvgPool2d(2, 2)))));
            steps.AddRange([new(1), new(2, 2)]);
            channels /= 2;
        }
        layers.Add(("norm5", ScalarSafeBatchNorm2d.Create(channels)));
        layers.Add(("relu5", ReLU(inplace: true)));
        features = Sequential(layers);
        path = steps.ToArray();
        OutChannels = channels;
        RegisterComponents();
        TorchvisionInit.Apply(this, fanOut: false);
    }

    public override int OutChannels { get; }

    public override int FeatureMapSize(int imageSize) => ConvGeometry.OutputSize(path, imageSize);

    public override ReceptiveField ReceptiveField => ConvGeometry.ReceptiveField(path);

    public override Tensor forward(Tensor input) => features.forward(input);
}

/// <summary>Layers that each see the concatenation of the block input and every earlier layer's output.</summary>
internal sealed class DenseBlock : Module<Tensor, Tensor>
{
    private readonly List<DenseLayer> layers = new();

    public DenseBlock(int layerCount, int inChannels, int growth) : base("DenseBlock")
    {
        for (int i = 0; i < layerCount; i++)
        {
            var layer = new DenseLayer(inChannels + i * growth, growth);
            layers.Add(layer);
            // torchvision's _DenseBlock is a ModuleDict with these keys; the names carry into the state dict.
            register_module($"denselayer{i + 1}", layer);
        }
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = input;
        foreach (var layer in layers) x = torch.cat([x, layer.forward(x)], 1);
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>BN-ReLU-Conv1×1 (to 4·growth channels), BN-ReLU-Conv3×3 (to growth channels).</summary>
internal sealed class DenseLayer : Module<Tensor, Tensor>
{
    private const int BottleneckWidth = 4;   // torchvision's bn_size

    private readonly ScalarSafeBatchNorm2d norm1;
    private readonly ReLU relu1;
    private readonly MixedPrecisionConv2d conv1;
    private readonly ScalarSafeBatchNorm2d norm2;
    private readonly ReLU relu2;
    private readonly MixedPrecisionConv2d conv2;

    public DenseLayer(int inChannels, int growth) : base("DenseLayer")
    {
        norm1 = ScalarSafeBatchNorm2d.Create(inChannels);
        relu1 = ReLU(inplace: true);
        conv1 = MixedPrecisionConv2d.Create(inChannels, BottleneckWidth * growth, 1, bias: false);
        norm2 = ScalarSafeBatchNorm2d.Create(BottleneckWidth * growth);
        relu2 = ReLU(inplace: true);
        conv2 = MixedPrecisionConv2d.Create(BottleneckWidth * growth, growth, 3, padding: 1, bias: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = conv1.forward(relu1.forward(norm1.forward(input)));
        return conv2.forward(relu2.forward(norm2.forward(x))).MoveToOuterDisposeScope();
    }
}
