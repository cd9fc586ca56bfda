using ProtoPNet.Model;
using ProtoPNet.Data;
using ProtoPNet.Runtime;
using static TorchSharp.torch;

namespace ProtoPNet.Data;

/// <summary>Applies a model's normalization to [B,3,S,S] RGB tensors in [0, 1].</summary>
public static class Normalize
{
    public static Tensor Apply(Tensor rgb, ImageNormalization n)
    {
        using var scope = NewDisposeScope();
        var x = n.Bgr ? rgb.flip(1) : rgb;
        var mean = tensor(n.Bgr ? Enumerable.Reverse(n.Mean).ToArray() : n.Mean, device: rgb.device).view(1, 3, 1, 1);
        var std = tensor(n.Bgr ? Enumerable.Reverse(n.Std).ToArray() : n.Std, device: rgb.device).view(1, 3, 1, 1);
        return ((x.Mul(n.Scale) - mean) / std).MoveToOuterDisposeScope();
    }
}
