using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ProtoPNet.Model.Backbones;

/// <summary>
/// The convolutional part of torchvision's VGG (Simonyan and Zisserman 2015): module <c>features</c>, a Sequential
/// indexed as torchvision indexes it (<c>features.0.weight</c>, …), up to and including the last max-pool, as the
/// ProtoPNet authors use it (7×7 at 224×224). No classifier.
/// </summary>
public sealed class Vgg : Backbone
{
    private const int Pool = 0;   // 'M' in torchvision's configurations

    // torchvision's cfgs "A", "B", "D", "E".
    private static readonly Dictionary<int, int[]> Configurations = new()
    {
        [11] = [64, Pool, 128, Pool, 256, 256, Pool, 512, 512, Pool, 512, 512, Pool],
        [13] = [64, 64, Pool, 128, 128, Pool, 256, 256, Pool, 512, 512, Pool, 512, 512, Pool],
        [16] = [64, 64, Pool, 128, 128, Pool, 256, 256, 256, Pool, 512, 512, 512, Pool, 512, 512, 512, Pool],
        [19] = [64, 64, Pool, 128, 128, Pool, 256, 256, 256, 256, Pool, 512, 512, 512, 512, Pool, 512, 512, 512, 512, Pool],
    };

    private readonly Sequential features;
    private readonly ConvStep[] path;

    /// <param name="depth">11, 13, 16 or 19.</param>
    /// <param name="batchNorm">The <c>_bn</c> variant: BatchNorm after every convolution.</param>
    public Vgg(int depth, bool batchNorm) : base(batchNorm ? $"vgg{depth}_bn" : $"vgg{depth}")
    {
        if (!Configurations.TryGetValue(depth, out var configuration))
            throw new ArgumentOutOfRangeException(nameof(depth), depth, "VGG depth must be 11, 13, 16 or 19.");
        var layers = new List<(string, Module<Tensor, Tensor>)>();
        var steps = new List<ConvStep>();
        int inChannels = 3;
        foreach (int v in configuration)
        {
            if (v == Pool)
            {
                layers.Add(($"{layers.Count}", MaxPool2d(2, 2)));
                steps.Add(new ConvStep(2, 2));
                continue;
            }
            layers.Add(($"{layers.Count}", MixedPrecisionConv2d.Create(inChannels, v, 3, padding: 1)));
            if (batchNorm) layers.Add(($"{layers.Count}", ScalarSafeBatchNorm2d.Create(v)));
            layers.Add(($"{layers.Count}", ReLU(inplace: true)));
            steps.Add(new ConvStep(3, 1, 1));
            inChannels = v;
        }
        features = Sequential(layers);
        path = steps.ToArray();
        OutChannels = inChannels;
        RegisterComponents();
        TorchvisionInit.Apply(this, fanOut: true);
    }

    public override int OutChannels { get; }

    public override int FeatureMapSize(int imageSize) => ConvGeometry.OutputSize(path, imageSize);

    public override ReceptiveField ReceptiveField => ConvGeometry.ReceptiveField(path);

    public override Tensor forward(Tensor input) => ConvBatchNormSequence.Forward(features, input);
}
