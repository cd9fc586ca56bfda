using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ProtoPNet.Model.Backbones;

/// <summary>
/// A 2-D convolution with torchvision's parameter names (<c>weight</c>, <c>bias</c>) that computes in its input's dtype and
/// layout: given float32 NCHW input it is exactly TorchSharp's <c>Conv2d</c>; given bfloat16 input it casts its float32
/// weights to bfloat16 inside the autograd graph, so gradients arrive at the float32 weights (what PyTorch's autocast
/// does, which TorchSharp lacks); given channels-last input (what the backbones get) it copies its NCHW weight to NHWC
/// strides inside the graph, and runs a 1×1 convolution as a GEMM. Inside an <see cref="InferenceScope"/> it keeps the
/// weights it prepares for inference, with a following BatchNorm folded in. See docs/performance.md, "Mixed precision",
/// "Channels-last" and "Inference weights".
/// </summary>
public sealed class MixedPrecisionConv2d : nn.Module<Tensor, Tensor>
{
    // Not readonly: Module.to(dtype/device) replaces parameters through these fields, found by name.
    private Parameter weight;
    private Parameter? bias;
    private readonly long[] stride;
    private readonly long[] padding;
    // Only inside inference scopes (null outside): weights prepared for one input dtype and layout, made once per scope.
    private Dictionary<(ScalarType DType, bool ChannelsLast), InferenceWeights>? inferenceWeights;
    private int scopes;

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
        if (inferenceWeights is not null)
        {
            if (!training && !is_grad_enabled()) return Infer(input, null);
            ForgetInferenceWeights();
        }
        bool channelsLast = ChannelsLast.Has(input);
        if (input.dtype == weight.dtype && !channelsLast)
            return nn.functional.conv2d(input, weight, bias, stride, padding);
        using var scope = NewDisposeScope();
        var b = bias is null || input.dtype == bias.dtype ? bias : bias.to(input.dtype);
        return Convolve(input, Prepare(weight, input), b).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// This convolution followed by <paramref name="batchNorm"/>. Inside an <see cref="InferenceScope"/> (both
    /// modules in eval mode, autograd off) it is one convolution whose weights and bias have the BatchNorm's affine map
    /// folded in, kept for the scope in the layout and dtype the input needs: no BatchNorm pass over the activations
    /// and no per-call weight copy. Otherwise the two modules run as they are (docs/performance.md, "Inference weights").
    /// </summary>
    public Tensor ForwardWithBatchNorm(Tensor input, ScalarSafeBatchNorm2d batchNorm)
    {
        if (inferenceWeights is not null)
        {
            if (!training && !batchNorm.training && !is_grad_enabled()) return Infer(input, batchNorm);
            ForgetInferenceWeights();   // a training pass inside a scope may change the weights (an optimizer step follows)
        }
        return batchNorm.forward(forward(input));
    }

    /// <summary>Starts (or, nested, joins) an inference scope: weights prepared for inference are kept until it ends.</summary>
    internal void BeginInferenceScope()
    {
        if (scopes++ == 0) inferenceWeights = [];
    }

    /// <summary>Ends one scope; the last one to end frees the kept weights.</summary>
    internal void EndInferenceScope()
    {
        if (scopes == 0 || --scopes > 0) return;
        ForgetInferenceWeights();
        inferenceWeights = null;
    }

    private void ForgetInferenceWeights()
    {
        foreach (var kept in inferenceWeights!.Values) kept.Dispose();
        inferenceWeights.Clear();
    }

    /// <summary>How many prepared weights this convolution keeps now (one per input dtype and layout seen in the scope).</summary>
    internal int KeptInferenceWeights => inferenceWeights?.Count ?? 0;

    /// <summary>
    /// Convolution weights ready for one input dtype and layout, and the handles of the tensors they were made from (the
    /// BatchNorm's too, if folded in): a parameter replaced since (by <c>to()</c>, a load) makes them stale.
    /// </summary>
    private sealed record InferenceWeights(Tensor Weight, Tensor? Bias, IntPtr[] Sources) : IDisposable
    {
        public void Dispose()
        {
            Weight.Dispose();
            Bias?.Dispose();
        }
    }

    private IntPtr[] SourcesOf(ScalarSafeBatchNorm2d? batchNorm) => batchNorm is null
        ? [weight.Handle, bias?.Handle ?? IntPtr.Zero]
        : [weight.Handle, bias?.Handle ?? IntPtr.Zero, batchNorm.Weight.Handle, batchNorm.Bias.Handle, batchNorm.RunningMean.Handle, batchNorm.RunningVar.Handle];

    private Tensor Infer(Tensor input, ScalarSafeBatchNorm2d? batchNorm)
    {
        var key = (input.dtype, ChannelsLast.Has(input));
        var sources = SourcesOf(batchNorm);
        if (!inferenceWeights!.TryGetValue(key, out var kept) || !kept.Sources.SequenceEqual(sources))
        {
            kept?.Dispose();
            using (var scope = NewDisposeScope())
            {
                var (w, b) = batchNorm is null ? (weight, bias) : batchNorm.Fold(weight, bias);
                var preparedBias = b is null ? null : Owned(b.to(input.dtype), b);
                kept = new InferenceWeights(Owned(Prepare(w, input), w).DetachFromDisposeScope(), preparedBias?.DetachFromDisposeScope(), sources);
            }
            inferenceWeights[key] = kept;
        }
        using var outer = NewDisposeScope();
        return Convolve(input, kept.Weight, kept.Bias).MoveToOuterDisposeScope();
    }

    /// <summary>The weight in the input's dtype and, for a k×k convolution of channels-last input, in NHWC strides.</summary>
    private Tensor Prepare(Tensor w, Tensor input)
    {
        var typed = input.dtype == w.dtype ? w : w.to(input.dtype);
        return ChannelsLast.Has(input) && !IsPointwise ? ChannelsLast.Strides(typed) : typed;
    }

    // A kept tensor is disposed when its scope ends: never the parameter object itself, at most an alias of its storage.
    private static Tensor Owned(Tensor prepared, Tensor source) => ReferenceEquals(prepared, source) || prepared is Parameter ? prepared.detach() : prepared;

    /// <summary>A 1×1 convolution without padding, which runs as a GEMM on channels-last input and keeps NCHW weights.</summary>
    public bool IsPointwise => weight.shape[2] == 1 && weight.shape[3] == 1 && padding[0] == 0 && padding[1] == 0;

    private Tensor Convolve(Tensor input, Tensor w, Tensor? b) =>
        ChannelsLast.Has(input) && IsPointwise ? PointwiseAsMatmul(input, w, b) : nn.functional.conv2d(input, w, b, stride, padding);

    /// <summary>
    /// A 1×1 convolution of channels-last input as one GEMM over its pixels, output in channels-last strides. oneDNN's own
    /// NHWC 1×1 kernels in libtorch 2.10 are wrong (float32, 256 input channels, stride 2) or kill the process with SIGFPE
    /// (float32 and bfloat16, e.g. 256→1024, 512→1024, 1024→2048) on AVX-512 CPUs: docs/performance.md, "Channels-last".
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
