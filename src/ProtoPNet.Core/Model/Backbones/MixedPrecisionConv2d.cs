using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ProtoPNet.Model.Backbones;

/// <summary>
/// A 2-D convolution with torchvision's parameter names (<c>weight</c>, <c>bias</c>) that computes in its input's dtype:
/// given float32 input it is exactly TorchSharp's <c>Conv2d</c>; given bfloat16 input it casts its float32 weights to
/// bfloat16 inside the autograd graph, so gradients arrive at the float32 weights (what PyTorch's autocast does, which
/// TorchSharp lacks). See docs/architecture.md, "Mixed precision".
/// </summary>
public sealed class MixedPrecisionConv2d : nn.Module<Tensor, Tensor>
{
    // Not readonly: Module.to(dtype/device) replaces parameters through these fields, found by name.
    private Parameter weight;
    private Parameter? bias;
    private readonly long[] stride;
    private readonly long[] padding;

    private MixedPrecisionConv2d(long inChannels, long outChannels, long kernel, long stride, long padding, bool bias) : base("Conv2d")
    {
        weight = new Parameter(empty(outChannels, inChannels, kernel, kernel));
        if (bias) this.bias = new Parameter(empty(outChannels));
        this.stride = [stride, stride];
        this.padding = [padding, padding];
        ResetParameters();
        RegisterComponents();
    }

    /// <summary>Square kernel, stride and padding, as the backbones use them; initialized as TorchSharp's Conv2d is.</summary>
    public static MixedPrecisionConv2d Create(long inChannels, long outChannels, long kernel, long stride = 1, long padding = 0, bool bias = true) =>
        new(inChannels, outChannels, kernel, stride, padding, bias);

    public Parameter Weight => weight;
    public Parameter? Bias => bias;

    public override Tensor forward(Tensor input)
    {
        if (input.dtype == weight.dtype)
            return nn.functional.conv2d(input, weight, bias, stride, padding);
        using var scope = NewDisposeScope();
        var output = nn.functional.conv2d(input, weight.to(input.dtype), bias?.to(input.dtype), stride, padding);
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>TorchSharp's Conv2d.reset_parameters, call for call, so a seeded backbone draws the same weights as before.</summary>
    private void ResetParameters()
    {
        using var _ = no_grad();
        nn.init.kaiming_uniform_(weight, Math.Sqrt(5));
        if (bias is null) return;
        var (fanIn, _) = nn.init.CalculateFanInAndFanOut(weight);
        if (fanIn == 0) return;
        double bound = 1 / Math.Sqrt(fanIn);
        nn.init.uniform_(bias, -bound, bound);
    }
}
