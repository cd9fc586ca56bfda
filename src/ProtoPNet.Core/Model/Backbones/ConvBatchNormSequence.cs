using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ProtoPNet.Model.Backbones;

/// <summary>
/// Runs a Sequential as its own forward does, except that each convolution directly followed by a BatchNorm goes through
/// <see cref="MixedPrecisionConv2d.ForwardWithBatchNorm"/>, so that inference folds the pair into one convolution.
/// </summary>
internal static class ConvBatchNormSequence
{
    public static Tensor Forward(Sequential layers, Tensor input)
    {
        using var scope = NewDisposeScope();
        var modules = layers.children().Cast<Module<Tensor, Tensor>>().ToArray();
        var x = input;
        for (int i = 0; i < modules.Length; i++)
        {
            if (modules[i] is MixedPrecisionConv2d convolution && i + 1 < modules.Length && modules[i + 1] is ScalarSafeBatchNorm2d batchNorm)
            {
                x = convolution.ForwardWithBatchNorm(x, batchNorm);
                i++;
            }
            else x = modules[i].forward(x);
        }
        return ReferenceEquals(x, input) ? x : x.MoveToOuterDisposeScope();
    }
}
