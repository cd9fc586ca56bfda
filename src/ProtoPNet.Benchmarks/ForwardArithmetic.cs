using ProtoPNet.Model;
using ProtoPNet.Model.Backbones;

namespace ProtoPNet.Benchmarks;

/// <summary>One layer's share of a forward pass, per image: its multiply-adds and its weight count.</summary>
public sealed record LayerArithmetic(string Layer, int OutputSize, long MultiplyAdds, long Weights);

/// <summary>
/// Multiply-adds of one image's forward pass, counted layer by layer: resnet18 (torchvision's layout: 1.814 G
/// multiply-adds at 224×224 with its 1000-class head, 1.8136 G without), smallcnn, and a ProtoPNet's head after either. With the
/// rates of <see cref="KernelThroughput"/> they bound how fast a forward pass, and so a push, can run on a CPU.
/// </summary>
public static class ForwardArithmetic
{
    /// <summary>resnet18's convolutions (BatchNorm, ReLU and pooling do no multiply-adds worth counting).</summary>
    public static IReadOnlyList<LayerArithmetic> ResNet18(int imageSize)
    {
        var layers = new List<LayerArithmetic>();
        int size = ConvGeometry.OutputSize([new ConvStep(7, 2, 3)], imageSize);
        layers.Add(Conv("conv1", 3, 64, 7, size));
        size = ConvGeometry.OutputSize([new ConvStep(3, 2, 1)], size);   // max pool
        int channels = 64;
        foreach (var (stage, planes) in new[] { (1, 64), (2, 128), (3, 256), (4, 512) })
        {
            for (int block = 0; block < 2; block++)
            {
                int stride = stage > 1 && block == 0 ? 2 : 1;
                int outSize = ConvGeometry.OutputSize([new ConvStep(3, stride, 1)], size);
                string name = $"layer{stage}.{block}";
                layers.Add(Conv($"{name}.conv1", channels, planes, 3, outSize));
                layers.Add(Conv($"{name}.conv2", planes, planes, 3, outSize));
                if (stride != 1 || channels != planes) layers.Add(Conv($"{name}.downsample", channels, planes, 1, outSize));
                channels = planes;
                size = outSize;
            }
        }
        return layers;
    }

    /// <summary>smallcnn's convolutions (two 3×3 pairs, each pair followed by a 2×2 max pool).</summary>
    public static IReadOnlyList<LayerArithmetic> SmallCnn(int imageSize)
    {
        int half = imageSize / 2;
        return
        [
            Conv("conv1", 3, 32, 3, imageSize), Conv("conv2", 32, 32, 3, imageSize),
            Conv("conv3", 32, 64, 3, half), Conv("conv4", 64, 128, 3, half),
        ];
    }

    /// <summary>The backbone's layers for the backbones counted here (resnet18, smallcnn).</summary>
    public static IReadOnlyList<LayerArithmetic> Backbone(string backbone, int imageSize) => backbone switch
    {
        "resnet18" => ResNet18(imageSize),
        "smallcnn" => SmallCnn(imageSize),
        _ => throw new ArgumentException($"No hand count for backbone '{backbone}'.", nameof(backbone)),
    };

    /// <summary>
    /// The layers after the backbone: the add-on's 1×1 convolutions, the prototype distances (one multiply-add per
    /// latent element and prototype element, as in ‖z‖² − 2z·p + ‖p‖²) and the last layer.
    /// </summary>
    public static IReadOnlyList<LayerArithmetic> Head(ProtoPNetModel model)
    {
        var network = model.Network;
        int featureSize = network.Backbone.FeatureMapSize(model.ImageSize);
        var layers = new List<LayerArithmetic>();
        int index = 0;
        foreach (var conv in network.AddOn.modules().OfType<TorchSharp.Modules.Conv2d>())
        {
            var shape = conv.weight!.shape;
            layers.Add(Conv($"add-on.{index++}", (int)shape[1], (int)shape[0], (int)shape[2], featureSize));
        }
        var prototypes = network.Prototypes.shape;
        long prototypeElements = prototypes[1] * prototypes[2] * prototypes[3];
        long cells = (long)model.FeatureMapSize * model.FeatureMapSize;
        layers.Add(new("prototype distances", model.FeatureMapSize, cells * prototypes[0] * prototypeElements, prototypes[0] * prototypeElements));
        layers.Add(new("last layer", 1, (long)model.PrototypeCount * model.ClassCount, (long)model.PrototypeCount * model.ClassCount));
        return layers;
    }

    private static LayerArithmetic Conv(string name, int inChannels, int outChannels, int kernel, int outputSize)
    {
        long weights = (long)outChannels * inChannels * kernel * kernel;
        return new(name, outputSize, weights * outputSize * outputSize, weights);
    }
}
