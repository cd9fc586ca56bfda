using TorchSharp;
using TorchSharp.Modules;
using ProtoPNet.Runtime;
using static TorchSharp.torch;

namespace ProtoPNet.Model.Backbones;

/// <summary>
/// TorchSharp's <c>BatchNorm2d</c> (affine, running statistics, momentum 0.1, ε 1e-5, torchvision's parameter and buffer
/// names) with the same <c>batch_norm</c> call, minus one hazard: TorchSharp's forward counts batches with
/// <c>num_batches_tracked.add_(1)</c>, which converts 1 to a TorchSharp Scalar that nothing holds during the native
/// call (docs/performance.md, "Scalars"). Here the count goes through <see cref="ScalarMath"/>.
/// </summary>
public sealed class ScalarSafeBatchNorm2d : nn.Module<Tensor, Tensor>
{
    private const double Momentum = 0.1;
    private const double Epsilon = 1e-5;

    // Not readonly: Module.to(dtype/device) replaces parameters and buffers through these fields, found by name.
    private Parameter weight;
    private Parameter bias;
    private Tensor running_mean;
    private Tensor running_var;
    private Tensor num_batches_tracked;

    private ScalarSafeBatchNorm2d(long features) : base("BatchNorm2d")
    {
        weight = new Parameter(ones(features));
        bias = new Parameter(zeros(features));
        running_mean = zeros(features);
        running_var = ones(features);
        num_batches_tracked = zeros(Array.Empty<long>(), dtype: ScalarType.Int64);   // 0-dim, as PyTorch's
        RegisterComponents();
    }

    public static ScalarSafeBatchNorm2d Create(long features) => new(features);

    public Parameter Weight => weight;
    public Parameter Bias => bias;
    public Tensor RunningMean => running_mean;
    public Tensor RunningVar => running_var;

    public override Tensor forward(Tensor input)
    {
        if (input.dim() != 4)
            throw new ArgumentException($"BatchNorm2d expects 4-D input [N, C, H, W], got {input.dim()}-D.", nameof(input));
        if (training)
        {
            using (no_grad()) num_batches_tracked.AddInPlace(1);
        }
        return nn.functional.batch_norm(input, running_mean, running_var, weight, bias, training, Momentum, Epsilon);
    }

    /// <summary>
    /// The weights and bias of a convolution that computes this BatchNorm (in eval mode) applied to
    /// <paramref name="convolutionWeight"/>'s output: scale = γ / √(σ² + ε) per channel, W' = W·scale,
    /// b' = (b − μ)·scale + β. Scale and bias computed in float64; W' and b' in the weight's dtype.
    /// </summary>
    public (Tensor Weight, Tensor Bias) Fold(Tensor convolutionWeight, Tensor? convolutionBias)
    {
        using var scope = NewDisposeScope();
        var scale = running_var.to(ScalarType.Float64).AddInPlace(Epsilon).rsqrt_().mul_(weight.to(ScalarType.Float64));
        var shift = running_mean.to(ScalarType.Float64).neg_();
        if (convolutionBias is not null) shift.AddInPlace(convolutionBias.to(ScalarType.Float64));
        var foldedBias = shift.mul_(scale).AddInPlace(bias).to(convolutionWeight.dtype);
        var foldedWeight = convolutionWeight.mul(scale.view(-1, 1, 1, 1).to(convolutionWeight.dtype));
        return (foldedWeight.MoveToOuterDisposeScope(), foldedBias.MoveToOuterDisposeScope());
    }
}
