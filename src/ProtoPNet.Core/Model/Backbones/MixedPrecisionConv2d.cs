using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ProtoPNet.Model.Backbones;

/// <summary>
/// A 2-D convolution with torchvision's parameter names (<c>weight</c>, <c>bias</c>) that computes in its input's dtype and
/// layout: given float32 NCHW input it is exactly TorchSharp's <c>Conv2d</c>; given bfloat16 input it casts its float32
/// weights to bfloat16 inside the autograd graph, so gradients arrive at the float32 weights (what PyTorch's autocast
/// does, which TorchSharp lacks); given channels-last input (what the backbones get) it copies its NCHW weight to NHWC
/// strides inside the graph, and runs a 1×1 convolution as a GEMM. See docs/architecture.md, "Mixed precision" and
/// "Channels-last".
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
        bool channelsLast = ChannelsLast.Has(input);
        if (input.dtype == weight.dtype && !channelsLast)
            return nn.functional.conv2d(input, weight, bias, stride, padding);
        using var scope = NewDisposeScope();
        var w = input.dtype == weight.dtype ? weight : weight.to(input.dtype);
        var b = bias is null || input.dtype == bias.dtype ? bias : bias.to(input.dtype);
        bool pointwise = weight.shape[2] == 1 && weight.shape[3] == 1 && padding[0] == 0 && padding[1] == 0;
        Tensor output;
        if (!channelsLast) output = nn.functional.conv2d(input, w, b, stride, padding);
        else if (pointwise) output = PointwiseAsMatmul(input, w, b);
        else output = nn.functional.conv2d(input, ChannelsLast.Strides(w), b, stride, padding);
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A 1×1 convolution of channels-last input as one GEMM over its pixels, output in channels-last strides. oneDNN's own
    /// NHWC 1×1 kernels in libtorch 2.10 are wrong (float32, 256 input channels, stride 2) or kill the process with SIGFPE
    /// (float32 and bfloat16, e.g. 256→1024, 512→1024, 1024→2048) on AVX-512 CPUs: docs/architecture.md, "Channels-last".
    /// </summary>
    private Tensor PointwiseAsMatmul(Tensor input, Tensor w, Tensor? b)
    {
        var x = stride[0] == 1 && stride[1] == 1 ? input : input.slice(2, 0, input.shape[2], stride[0]).slice(3, 0, input.shape[3], stride[1]);
        long n = x.shape[0], h = x.shape[2], width = x.shape[3], outChannels = w.shape[0];
        var rows = x.permute(0, 2, 3, 1).reshape(n * h * width, x.shape[1]);
        var kernel = w.view(outChannels, w.shape[1]).t();
        var product = b is null ? rows.matmul(kernel) : torch.addmm(b, rows, kernel, beta: 1, alpha: 1);
        return product.view(n, h, width, outChannels).permute(0, 3, 1, 2);
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
