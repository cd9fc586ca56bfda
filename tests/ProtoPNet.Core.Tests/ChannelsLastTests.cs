using ProtoPNet.Model;
using ProtoPNet.Model.Backbones;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ProtoPNet.Tests;

/// <summary>
/// The backbone runs in channels-last (NHWC) strides. oneDNN's NHWC 1×1 convolutions in libtorch 2.10 are wrong
/// (float32, 256 → 512, stride 2: half the output off) or kill the process with SIGFPE (512 → 1024 and 1024 → 2048 in
/// float32, 256 → 1024 in bfloat16) on AVX-512 CPUs, so <see cref="MixedPrecisionConv2d"/> runs them as a GEMM. These
/// tests use exactly those shapes: on a CPU with the bug, a regression to oneDNN's kernel fails or crashes them.
/// </summary>
public sealed class ChannelsLastTests
{
    /// <summary>
    /// The reference is the NCHW convolution in float64 (libtorch's own kernel, not oneDNN's): oneDNN's float32 NCHW
    /// backward also dies with SIGFPE on 1024 → 2048 at stride 2, which killed resnet50/101 training before the backbone
    /// ran channels-last.
    /// </summary>
    [Theory]
    [InlineData(256, 512, 2, 8, false)]    // resnet18/34's layer4 downsample: wrong values from oneDNN's NHWC kernel
    [InlineData(512, 1024, 1, 4, true)]    // SIGFPE in oneDNN's NHWC kernel
    [InlineData(1024, 2048, 2, 4, false)]  // resnet50's layer4 downsample: SIGFPE in NHWC, and in NCHW's backward
    [InlineData(64, 128, 1, 5, true)]
    public void PointwiseConvolutionOfChannelsLastInputEqualsTheNchwConvolutionWithItsGradients(int inChannels, int outChannels, int stride, int size, bool bias)
    {
        torch.manual_seed(21);
        using var conv = MixedPrecisionConv2d.Create(inChannels, outChannels, 1, stride: stride, bias: bias);
        using var scope = NewDisposeScope();
        var input = torch.randn(3, inChannels, size, size, generator: new Generator(22));
        int outSize = (size - 1) / stride + 1;
        var direction = torch.randn(3, outChannels, outSize, outSize, generator: new Generator(23));

        // float64 NCHW reference with copies of the layer's parameters.
        var x64 = input.to(ScalarType.Float64).requires_grad_(true);
        var w64 = conv.Weight.detach().to(ScalarType.Float64).requires_grad_(true);
        var b64 = bias ? conv.Bias!.detach().to(ScalarType.Float64).requires_grad_(true) : null;
        var reference = nn.functional.conv2d(x64, w64, b64, [stride, stride]);
        (reference * direction.to(ScalarType.Float64)).sum().backward();
        var referenceGradients = new List<Tensor> { x64.grad!, w64.grad! };
        if (bias) referenceGradients.Add(b64!.grad!);

        var leaf = ChannelsLast.Strides(input).requires_grad_(true);
        var actual = conv.forward(leaf);
        (actual * direction).sum().backward();
        var gradients = new List<Tensor> { leaf.grad!, conv.Weight.grad! };
        if (bias) gradients.Add(conv.Bias!.grad!);

        Assert.True(ChannelsLast.Has(actual), "the output should keep the input's channels-last strides");
        Assert.True(MaxRelative(actual, reference) < 1e-5, $"output {MaxRelative(actual, reference):E2} off");
        for (int i = 0; i < gradients.Count; i++)
            Assert.True(MaxRelative(gradients[i], referenceGradients[i]) < 1e-5, $"gradient {i}: {MaxRelative(gradients[i], referenceGradients[i]):E2} off");
    }

    /// <summary>A float32 training step through the deep backbones whose NCHW 1×1 backward died with SIGFPE.</summary>
    [Theory]
    [InlineData("resnet50")]
    [InlineData("resnet101")]
    public void DeepBackbonesTrainInFloat32(string backbone)
    {
        using var model = ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = backbone, ImageSize = 64 }, ["a", "b"], 1, seed: 14);
        var network = model.Network;
        network.train();
        using var scope = NewDisposeScope();
        network.BackboneFeatures(torch.rand(2, 3, 64, 64, generator: new Generator(15))).square().mean().backward();
        var gradients = network.Backbone.parameters().Select(p => p.grad).ToList();
        Assert.All(gradients, g => Assert.NotNull(g));
        Assert.All(gradients, g => Assert.True(g!.isfinite().all().item<bool>()));
        Assert.Contains(gradients, g => g!.abs().max().item<float>() > 0);
    }

    /// <summary>Every backbone family's features in NHWC equal its NCHW features: catches the bug in any other shape.</summary>
    [Theory]
    [InlineData("resnet18", 64)]
    [InlineData("resnet50", 32)]
    [InlineData("densenet121", 32)]
    [InlineData("vgg11_bn", 32)]
    [InlineData("smallcnn", 28)]
    public void BackboneFeaturesInChannelsLastEqualTheNchwComputation(string backbone, int size)
    {
        using var model = ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = backbone, ImageSize = size }, ["a", "b"], 1, seed: 7);
        var network = model.Network;
        network.eval();
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var input = torch.rand(4, 3, size, size, generator: new Generator(8));
        var reference = network.Backbone.forward(input);
        Assert.False(ChannelsLast.Has(reference), "the reference should have run in NCHW");
        var features = network.BackboneFeatures(input);
        Assert.True(features.is_contiguous());
        Assert.True(MaxRelative(features, reference) < 1e-4, $"{backbone}: features {MaxRelative(features, reference):E2} off");
    }

    /// <summary>
    /// Training runs channels-last too: gradients at the (NCHW) weights equal the NCHW computation's. smallcnn's looser
    /// tolerance is max-pooling's: train-mode activations differ by rounding (1e-5), which moves the argmax of one
    /// near-tied 2×2 window (values 7e-7 apart) of 262,144, and that window's gradient to another pixel (measured: 2.4e-3
    /// relative in the first layers, against a float64 computation that agrees with NCHW to 1e-6). A wrong kernel is off
    /// by tens of percent.
    /// </summary>
    [Theory]
    [InlineData("resnet18", 64, 1e-3)]
    [InlineData("smallcnn", 64, 1e-2)]
    public void TrainingGradientsInChannelsLastEqualTheNchwComputation(string backbone, int size, double tolerance)
    {
        using var model = ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = backbone, ImageSize = size }, ["a", "b"], 1, seed: 9);
        var network = model.Network;
        network.train();
        using var scope = NewDisposeScope();
        var input = torch.rand(8, 3, size, size, generator: new Generator(10));
        using (no_grad()) network.Backbone.eval();
        var shape = network.Backbone.forward(input).shape;
        network.train();
        var direction = torch.randn(shape, generator: new Generator(11));
        Dictionary<string, Tensor> Gradients(Func<Tensor, Tensor> features)
        {
            network.zero_grad();
            (features(input) * direction).sum().backward();
            return network.Backbone.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        }
        var reference = Gradients(network.Backbone.forward);
        var actual = Gradients(network.BackboneFeatures);
        foreach (var (name, grad) in actual)
        {
            Assert.True(grad.is_contiguous(), $"{name}: the optimizer expects contiguous gradients");
            double relative = (grad - reference[name]).norm().item<float>() / Math.Max(reference[name].norm().item<float>(), 1e-12f);
            Assert.True(relative < tolerance, $"{name}: gradient {relative:E2} off");
        }
    }

    private static double MaxRelative(Tensor actual, Tensor reference)
    {
        using var a = actual.to(ScalarType.Float64);
        using var r = reference.to(ScalarType.Float64);
        return (a - r).abs().max().item<double>() / Math.Max(r.abs().max().item<double>(), 1e-12);
    }
}
