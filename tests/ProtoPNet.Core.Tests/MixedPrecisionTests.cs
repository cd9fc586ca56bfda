using ProtoPNet.Model;
using ProtoPNet.Model.Backbones;
using ProtoPNet.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ProtoPNet.Tests;

/// <summary>
/// bfloat16 backbone arithmetic from float32 master weights: the float32 path is the old computation bit for bit, the
/// bfloat16 path stays within bfloat16's precision of it, and gradients arrive at the float32 weights.
/// </summary>
public sealed class MixedPrecisionTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Float32ConvolutionIsTorchSharpsConv2dBitForBit(bool bias)
    {
        torch.manual_seed(11);
        using var reference = nn.Conv2d(5, 7, 3, stride: 2, padding: 1, bias: bias);
        torch.manual_seed(11);
        using var mixed = MixedPrecisionConv2d.Create(5, 7, 3, stride: 2, padding: 1, bias: bias);
        Assert.True(TestData.BitIdentical(Values(reference.weight!), Values(mixed.Weight)), "initialization drew different weights");
        if (bias) Assert.True(TestData.BitIdentical(Values(reference.bias!), Values(mixed.Bias!)), "initialization drew a different bias");
        using var input = torch.randn(2, 5, 9, 9);
        using var expected = reference.forward(input);
        using var actual = mixed.forward(input);
        Assert.True(TestData.BitIdentical(Values(expected), Values(actual)));
    }

    private static float[] Values(Tensor t) => t.detach().contiguous().data<float>().ToArray();

    [Theory]
    [InlineData("resnet18", 64)]
    [InlineData("smallcnn", 28)]
    [InlineData("resnet50", 32)]      // its wide 1×1 convolutions killed the process in bfloat16 before they ran as a GEMM
    [InlineData("densenet121", 32)]   // likewise (docs/performance.md, "Channels-last")
    public void BFloat16FeaturesAreWithinBFloat16PrecisionOfFloat32(string backbone, int size)
    {
        using var model = ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = backbone, ImageSize = size }, ["a", "b"], 1, seed: 3);
        var network = model.Network;
        network.eval();
        using var _ = no_grad();
        using var input = torch.rand(4, 3, size, size, generator: new Generator(5));
        using var reference = network.BackboneFeatures(input);
        network.BackbonePrecision = ComputePrecision.BFloat16;
        using var features = network.BackboneFeatures(input);
        Assert.Equal(ScalarType.Float32, features.dtype);
        Assert.All(network.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        double relative = (features - reference).abs().mean().item<float>() / reference.abs().mean().item<float>();
        // bfloat16 keeps 8 significant bits (relative step 2^-8 ≈ 0.4 %); a dozen layers compound it to about 1 %.
        Assert.InRange(relative, 1e-4, 0.03);   // not 0: the bfloat16 path really ran
    }

    [Fact]
    public void BFloat16GradientsArriveAtTheFloat32WeightsAndPointTheSameWay()
    {
        using var model = ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = "resnet18", ImageSize = 64 }, ["a", "b"], 1, seed: 4);
        var network = model.Network;
        network.train();
        using var input = torch.rand(16, 3, 64, 64, generator: new Generator(6));
        using var direction = torch.randn(16, 512, 2, 2, generator: new Generator(8));
        Dictionary<string, Tensor> Gradients(ComputePrecision precision)
        {
            network.zero_grad();
            network.BackbonePrecision = precision;
            using var scope = NewDisposeScope();
            (network.BackboneFeatures(input) * direction).sum().backward();
            return network.Backbone.named_parameters().Where(p => p.parameter.grad is not null)
                .ToDictionary(p => p.name, p => p.parameter.grad!.clone().DetachFromDisposeScope());
        }
        var reference = Gradients(ComputePrecision.Float32);
        var mixed = Gradients(ComputePrecision.BFloat16);
        Assert.Equal(reference.Keys.Order(), mixed.Keys.Order());
        var cosines = new List<double>();
        foreach (var (name, grad) in mixed)
        {
            Assert.Equal(ScalarType.Float32, grad.dtype);
            double cosine = nn.functional.cosine_similarity(grad.flatten(), reference[name].flatten(), dim: 0).item<float>();
            // Train-mode BatchNorm subtracts nearly equal terms in its backward pass, which bfloat16 rounding disturbs
            // most in the early layers (measured: 0.89 at the worst BatchNorm weight, 0.91 at the worst convolution).
            Assert.True(cosine > 0.85, $"{name}: cosine {cosine:F4} between the bfloat16 and float32 gradients");
            cosines.Add(cosine);
        }
        Assert.True(cosines.Average() > 0.93, $"mean cosine {cosines.Average():F4}");
    }

    [Fact]
    public void TrainingInBFloat16LearnsLikeFloat32AndLeavesAFloat32Model()
    {
        var data = TestData.Images(32, 2, 16, seed: 7);
        TrainingSummary Run(ComputePrecision precision, out ProtoPNetModel model)
        {
            model = TestData.Model(2, seed: 2);
            var options = new TrainingOptions
            {
                Phases = [TrainingPhase.Warm(1), TrainingPhase.Joint(3, backboneLr: 1e-3)], BatchSize = 8, Seed = 4, Precision = precision,
            };
            return ProtoPNetTrainer.Train(model, data, null, options);
        }
        var reference = Run(ComputePrecision.Float32, out var referenceModel);
        var mixed = Run(ComputePrecision.BFloat16, out var mixedModel);
        using (referenceModel)
        using (mixedModel)
        {
            Assert.Equal(ComputePrecision.Float32, mixedModel.Network.BackbonePrecision);
            Assert.All(mixedModel.Network.state_dict().Values.Where(t => t.is_floating_point()), t => Assert.Equal(ScalarType.Float32, t.dtype));
            // Same data, seed and schedule: the loss curves agree to bfloat16's precision, and both learn.
            for (int e = 0; e < reference.Epochs.Count; e++)
                Assert.InRange(mixed.Epochs[e].Loss, reference.Epochs[e].Loss * 0.9, reference.Epochs[e].Loss * 1.1);
            Assert.True(mixed.Epochs[^1].Loss < mixed.Epochs[0].Loss, "bfloat16 training did not lower the loss");
            Assert.NotEqual(reference.Epochs[^1].Loss, mixed.Epochs[^1].Loss);   // the bfloat16 path really ran
        }
    }
}
