using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ProtoPNet.Model.Backbones;

/// <summary>
/// A small CNN for CPUs, demos and tests: four 3×3 conv-BN-ReLU layers and two 2×2 max-pools,
/// so the latent grid is input/4 (7×7 at 28×28, 16×16 at 64×64) and each cell sees a bounded
/// 16×16 window — boxes drawn from its activation maps point at the part that fired.
/// </summary>
public sealed class SmallCnn : Backbone
{
    private readonly Sequential features;

    public SmallCnn() : base("smallcnn")
    {
        features = Sequential(
            ("conv1", MixedPrecisionConv2d.Create(3, 32, 3, padding: 1, bias: false)), ("bn1", ScalarSafeBatchNorm2d.Create(32)), ("relu1", ReLU(inplace: true)),
            ("conv2", MixedPrecisionConv2d.Create(32, 32, 3, padding: 1, bias: false)), ("bn2", ScalarSafeBatchNorm2d.Create(32)), ("relu2", ReLU(inplace: true)),
            ("pool1", MaxPool2d(2, 2)),
            ("conv3", MixedPrecisionConv2d.Create(32, 64, 3, padding: 1, bias: false)), ("bn3", ScalarSafeBatchNorm2d.Create(64)), ("relu3", ReLU(inplace: true)),
            ("conv4", MixedPrecisionConv2d.Create(64, 128, 3, padding: 1, bias: false)), ("bn4", ScalarSafeBatchNorm2d.Create(128)), ("relu4", ReLU(inplace: true)),
            ("pool2", MaxPool2d(2, 2)));
        RegisterComponents();
    }

    public override int OutChannels => 128;

    public override int FeatureMapSize(int imageSize) => imageSize / 2 / 2;

    // conv3 (3) → conv3 (5) → pool (6, jump 2) → conv3 (10) → conv3 (14) → pool (16, jump 4); centre of cell 0 at pixel 1.5.
    public override ReceptiveField ReceptiveField => new(16, 4, 1.5);

    // Not the authors' backbone: its add-on keeps a convolution's default initialization, with which its training recipe,
    // the demo and the planted-part figures were made; the authors' made push cost far more there (docs/algorithm.md §1).
    public override bool AuthorsAddOnInitialization => false;

    public override Tensor forward(Tensor input) => ConvBatchNormSequence.Forward(features, input);
}
