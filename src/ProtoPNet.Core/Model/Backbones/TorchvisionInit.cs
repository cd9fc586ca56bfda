using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ProtoPNet.Model.Backbones;

/// <summary>The weight initialization torchvision gives its classifiers, so untrained backbones start alike.</summary>
internal static class TorchvisionInit
{
    /// <summary>
    /// Convolutions: Kaiming normal (fan-out for VGG and ResNet, fan-in for DenseNet, ReLU gain), bias 0;
    /// BatchNorm: weight 1, bias 0.
    /// </summary>
    public static void Apply(nn.Module module, bool fanOut)
    {
        using var _ = no_grad();
        foreach (var (_, child) in module.named_modules())
        {
            switch (child)
            {
                case MixedPrecisionConv2d conv:
                    nn.init.kaiming_normal_(conv.Weight, mode: fanOut ? nn.init.FanInOut.FanOut : nn.init.FanInOut.FanIn,
                        nonlinearity: nn.init.NonlinearityType.ReLU);
                    if (conv.Bias is not null) nn.init.zeros_(conv.Bias);
                    break;
                case ScalarSafeBatchNorm2d bn:
                    nn.init.ones_(bn.Weight);
                    nn.init.zeros_(bn.Bias);
                    break;
            }
        }
    }
}
