using TorchSharp;
using TorchSharp.Modules;
using ProtoPNet.Data;
using ProtoPNet.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ProtoPNet.Model.Backbones;

/// <summary>
/// torchvision's ResNet (He et al. 2016, v1.5: stride on the 3×3 convolution) without avgpool and fc:
/// conv1, bn1, relu, maxpool, layer1 … layer4, with torchvision's parameter names (<c>layer1.0.conv1.weight</c>,
/// <c>layer2.0.downsample.0.weight</c>, …). 7×7 feature map at 224×224.
/// </summary>
public sealed class ResNet : Backbone
{
    private static readonly Dictionary<int, (bool Bottleneck, int[] Blocks)> Configurations = new()
    {
        [18] = (false, [2, 2, 2, 2]),
        [34] = (false, [3, 4, 6, 3]),
        [50] = (true, [3, 4, 6, 3]),
        [101] = (true, [3, 4, 23, 3]),
        [152] = (true, [3, 8, 36, 3]),
    };

    private readonly MixedPrecisionConv2d conv1;
    private readonly ScalarSafeBatchNorm2d bn1;
    private readonly ReLU relu;
    private readonly MaxPool2d maxpool;
    private readonly Sequential layer1;
    private readonly Sequential layer2;
    private readonly Sequential layer3;
    private readonly Sequential layer4;
    private readonly List<ConvStep> path = [new(7, 2, 3), new(3, 2, 1)];
    private int inPlanes = 64;

    /// <param name="depth">18, 34, 50, 101 or 152.</param>
    public ResNet(int depth) : this($"resnet{depth}", Configuration(depth))
    {
    }

    private static (bool Bottleneck, int[] Blocks) Configuration(int depth) =>
        Configurations.TryGetValue(depth, out var configuration)
            ? configuration
            : throw new ArgumentOutOfRangeException(nameof(depth), depth, "ResNet depth must be 18, 34, 50, 101 or 152.");

    /// <summary>A ResNet of any block counts (the offline ImageNet ResNet-18 variant has basic blocks [2, 2, 2, 3]).</summary>
    internal ResNet(string name, (bool Bottleneck, int[] Blocks) configuration, ImageNormalization? normalization = null) : base(name)
    {
        var (bottleneck, blocks) = configuration;
        defaultNormalization = normalization ?? ImageNormalization.ImageNet;
        conv1 = MixedPrecisionConv2d.Create(3, 64, 7, stride: 2, padding: 3, bias: false);
        bn1 = ScalarSafeBatchNorm2d.Create(64);
        relu = ReLU(inplace: true);
        maxpool = MaxPool2d(3, 2, 1);
        layer1 = MakeLayer(bottleneck, 64, blocks[0], 1);
        layer2 = MakeLayer(bottleneck, 128, blocks[1], 2);
        layer3 = MakeLayer(bottleneck, 256, blocks[2], 2);
        layer4 = MakeLayer(bottleneck, 512, blocks[3], 2);
        OutChannels = inPlanes;
        RegisterComponents();
        TorchvisionInit.Apply(this, fanOut: true);
    }

    private Sequential MakeLayer(bool bottleneck, int planes, int blocks, int stride)
    {
        int expansion = bottleneck ? ResNetBottleneck.Expansion : 1;
        var layers = new List<(string, Module<Tensor, Tensor>)>();
        for (int i = 0; i < blocks; i++)
        {
            int s = i == 0 ? stride : 1;
            Sequential? downsample = null;
            if (i == 0 && (stride != 1 || inPlanes != planes * expansion))
                downsample = Sequential(("0", MixedPrecisionConv2d.Create(inPlanes, planes * expansion, 1, stride: stride, bias: false)),
                                        ("1", ScalarSafeBatchNorm2d.Create(planes * expansion)));
            if (bottleneck)
            {
                layers.Add(($"{i}", new ResNetBottleneck(inPlanes, planes, s, downsample)));
                path.AddRange([new(1), new(3, s, 1), new(1)]);
            }
            else
            {
                layers.Add(($"{i}", new ResNetBasicBlock(inPlanes, planes, s, downsample)));
                path.AddRange([new(3, s, 1), new(3, 1, 1)]);
            }
            inPlanes = planes * expansion;
        }
        return Sequential(layers);
    }

    public override int OutChannels { get; }

    private readonly ImageNormalization defaultNormalization;

    public override ImageNormalization DefaultNormalization => defaultNormalization;

    public override int FeatureMapSize(int imageSize) => ConvGeometry.OutputSize(path, imageSize);

    public override ReceptiveField ReceptiveField => ConvGeometry.ReceptiveField(path);

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = maxpool.forward(relu.forward(conv1.ForwardWithBatchNorm(input, bn1)));
        x = layer4.forward(layer3.forward(layer2.forward(layer1.forward(x))));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>Two 3×3 convolutions and a shortcut (resnet18, resnet34).</summary>
internal sealed class ResNetBasicBlock : Module<Tensor, Tensor>
{
    private readonly MixedPrecisionConv2d conv1;
    private readonly ScalarSafeBatchNorm2d bn1;
    private readonly ReLU relu;
    private readonly MixedPrecisionConv2d conv2;
    private readonly ScalarSafeBatchNorm2d bn2;
    private readonly Sequential? downsample;

    public ResNetBasicBlock(int inPlanes, int planes, int stride, Sequential? downsample) : base("BasicBlock")
    {
        conv1 = MixedPrecisionConv2d.Create(inPlanes, planes, 3, stride: stride, padding: 1, bias: false);
        bn1 = ScalarSafeBatchNorm2d.Create(planes);
        relu = ReLU(inplace: true);
        conv2 = MixedPrecisionConv2d.Create(planes, planes, 3, padding: 1, bias: false);
        bn2 = ScalarSafeBatchNorm2d.Create(planes);
        this.downsample = downsample;
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = relu.forward(conv1.ForwardWithBatchNorm(input, bn1));
        x = conv2.ForwardWithBatchNorm(x, bn2);
        var identity = downsample is null ? input : ConvBatchNormSequence.Forward(downsample, input);
        return relu.forward(x.AddInPlace(identity)).MoveToOuterDisposeScope();
    }
}

/// <summary>1×1 reduce, 3×3 (carrying the stride), 1×1 expand ×4, and a shortcut (resnet50 and deeper).</summary>
internal sealed class ResNetBottleneck : Module<Tensor, Tensor>
{
    public const int Expansion = 4;

    private readonly MixedPrecisionConv2d conv1;
    private readonly ScalarSafeBatchNorm2d bn1;
    private readonly MixedPrecisionConv2d conv2;
    private readonly ScalarSafeBatchNorm2d bn2;
    private readonly MixedPrecisionConv2d conv3;
    private readonly ScalarSafeBatchNorm2d bn3;
    private readonly ReLU relu;
    private readonly Sequential? downsample;

    public ResNetBottleneck(int inPlanes, int planes, int stride, Sequential? downsample) : base("Bottleneck")
    {
        conv1 = MixedPrecisionConv2d.Create(inPlanes, planes, 1, bias: false);
        bn1 = ScalarSafeBatchNorm2d.Create(planes);
        conv2 = MixedPrecisionConv2d.Create(planes, planes, 3, stride: stride, padding: 1, bias: false);
        bn2 = ScalarSafeBatchNorm2d.Create(planes);
        conv3 = MixedPrecisionConv2d.Create(planes, planes * Expansion, 1, bias: false);
        bn3 = ScalarSafeBatchNorm2d.Create(planes * Expansion);
        relu = ReLU(inplace: true);
        this.downsample = downsample;
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = relu.forward(conv1.ForwardWithBatchNorm(input, bn1));
        x = relu.forward(conv2.ForwardWithBatchNorm(x, bn2));
        x = conv3.ForwardWithBatchNorm(x, bn3);
        var identity = downsample is null ? input : ConvBatchNormSequence.Forward(downsample, input);
        return relu.forward(x.AddInPlace(identity)).MoveToOuterDisposeScope();
    }
}
