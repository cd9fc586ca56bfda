using ProtoPNet.Runtime;
using ProtoPNet.Model;
using ProtoPNet.Model.Backbones;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using ProtoPNet.Evaluation;

namespace ProtoPNet.Tests;

/// <summary>
/// Inside an <see cref="InferenceScope"/> each convolution followed by a BatchNorm runs as one convolution with the
/// BatchNorm folded in, with weights prepared once for the scope. These tests hold the folded computation to the
/// unfolded one, and the kept weights to the parameters they were made from.
/// </summary>
public sealed class InferenceScopeTests
{
    /// <summary>Random running statistics and affine parameters, so that folding has something to fold.</summary>
    private static void RandomizeBatchNorms(nn.Module network, int seed)
    {
        var generator = new Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var bn in network.modules().OfType<ScalarSafeBatchNorm2d>())
        {
            bn.RunningMean.copy_(torch.rand(bn.RunningMean.shape, generator: generator).Sub(0.5));
            bn.RunningVar.copy_(torch.rand(bn.RunningVar.shape, generator: generator).Mul(1.5).Add(0.25));
            bn.Weight.copy_(torch.rand(bn.Weight.shape, generator: generator).Add(0.5));
            bn.Bias.copy_(torch.rand(bn.Bias.shape, generator: generator).Sub(0.5).Mul(0.4));
        }
    }

    private static ProtoPNetModel Model(string backbone, int imageSize, int seed = 3)
    {
        var model = ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = backbone, ImageSize = imageSize, PrototypeDepth = 16 }, ["a", "b", "c"], 2, seed);
        RandomizeBatchNorms(model.Network, seed);
        return model;
    }

    private static double MaxRelative(Tensor actual, Tensor expected) =>
        actual.to(ScalarType.Float64).sub(expected.to(ScalarType.Float64)).abs().max().item<double>() / Math.Max(1e-12, expected.to(ScalarType.Float64).abs().max().item<double>());

    private static MixedPrecisionConv2d[] Convolutions(ProtoPNetModel model) => model.Network.modules().OfType<MixedPrecisionConv2d>().ToArray();

    [Theory]
    [InlineData("resnet18", 32)]
    [InlineData("vgg11_bn", 32)]   // convolutions with a bias of their own
    [InlineData("smallcnn", 16)]
    public void FoldedForwardEqualsTheUnfoldedOne(string backbone, int imageSize)
    {
        using var model = Model(backbone, imageSize);
        using var images = torch.rand(5, 3, imageSize, imageSize, generator: new Generator(4));
        using var expectedFeatures = model.Infer(network => network.BackboneFeatures(images));
        using var expected = model.Logits(images);
        Assert.All(Convolutions(model), c => Assert.Equal(0, c.KeptInferenceWeights));

        Tensor actualFeatures, actual;
        using (InferenceScope.Begin(model))
        {
            actualFeatures = model.Infer(network => network.BackboneFeatures(images));
            actual = model.Logits(images);
            Assert.All(model.Network.Backbone.modules().OfType<MixedPrecisionConv2d>(), c => Assert.Equal(1, c.KeptInferenceWeights));
        }
        using (actualFeatures)
        using (actual)
        {
            Assert.All(Convolutions(model), c => Assert.Equal(0, c.KeptInferenceWeights));
            double features = MaxRelative(actualFeatures, expectedFeatures), logits = MaxRelative(actual, expected);
            Assert.True(features < 1e-5, $"backbone features {features:E2} off");
            Assert.True(logits < 1e-5, $"logits {logits:E2} off");
            Assert.True(features > 0, "the scope's forward should be the folded computation, which rounds differently");
        }
        // The parameters outlive the scope's kept weights (which may alias them).
        using var again = model.Logits(images);
        Assert.True(TestData.BitIdentical(again.data<float>().ToArray(), expected.data<float>().ToArray()));
    }

    /// <summary>
    /// In bfloat16 the folded weights round differently from the unfolded convolution and BatchNorm; the folded forward
    /// must stay as close to the float32 one as the unfolded bfloat16 forward is.
    /// </summary>
    [Fact]
    public void FoldedBFloat16ForwardIsAsCloseToFloat32AsTheUnfoldedOne()
    {
        using var model = Model("resnet18", 32);
        using var images = torch.rand(8, 3, 32, 32, generator: new Generator(4));
        using var float32 = model.Infer(network => network.BackboneFeatures(images));
        model.Network.BackbonePrecision = ComputePrecision.BFloat16;
        using var unfolded = model.Infer(network => network.BackboneFeatures(images));
        Tensor folded;
        using (InferenceScope.Begin(model))
        {
            folded = model.Infer(network => network.BackboneFeatures(images));
            Assert.Equal(1, Convolutions(model)[0].KeptInferenceWeights);
        }
        using (folded)
        {
            double unfoldedError = MaxRelative(unfolded, float32), foldedError = MaxRelative(folded, float32);
            Assert.True(foldedError < 2 * unfoldedError && foldedError < 0.1, $"folded bfloat16 {foldedError:E2} off float32, unfolded {unfoldedError:E2}");
        }
    }

    /// <summary>
    /// A training step inside a scope drops the kept weights (the step's forward passes in training mode): the next
    /// inference sees the updated weights and running statistics, as it would outside any scope.
    /// </summary>
    [Fact]
    public void TrainingInsideAScopeMakesTheNextInferenceSeeTheNewWeights()
    {
        using var model = Model("resnet18", 32);
        using var images = torch.rand(6, 3, 32, 32, generator: new Generator(5));
        using var labels = torch.tensor(new long[] { 0, 1, 2, 0, 1, 2 });
        var scope = InferenceScope.Begin(model);
        using var before = model.Logits(images);
        Assert.Contains(Convolutions(model), c => c.KeptInferenceWeights > 0);

        var network = model.Network;
        network.train();
        // A plain gradient step through ScalarMath: TorchSharp's own optimizers make Scalars nothing holds during the
        // native call (docs/performance.md, "Scalars"), which can crash the test host.
        using (var output = network.forward(images))
            nn.functional.cross_entropy(output.Logits, labels).backward();
        using (no_grad())
            foreach (var parameter in network.Backbone.parameters())
                using (var grad = parameter.grad)
                    if (grad is not null) parameter.AddScaledInPlace(grad, -0.5);
        network.eval();
        Assert.All(Convolutions(model), c => Assert.Equal(0, c.KeptInferenceWeights));

        using var inScope = model.Logits(images);
        scope.Dispose();
        using var expected = Unscoped(model, images);
        Assert.True(MaxRelative(before, expected) > 1e-2, "the step should have changed the logits");
        Assert.True(MaxRelative(inScope, expected) < 1e-4, $"{MaxRelative(inScope, expected):E2} off the unfolded forward after the step");
    }

    /// <summary>A parameter replaced inside a scope (as <c>to()</c> and loading do) is noticed by its handle.</summary>
    [Fact]
    public void ReplacedBatchNormStatisticsAreNoticed()
    {
        using var model = Model("smallcnn", 16);
        using var images = torch.rand(4, 3, 16, 16, generator: new Generator(6));
        var scope = InferenceScope.Begin(model);
        using (model.Logits(images)) { }
        model.Network.to(ScalarType.Float64).to(ScalarType.Float32);   // every parameter and buffer is a new tensor now
        RandomizeBatchNorms(model.Network, 9);
        using var inScope = model.Logits(images);
        scope.Dispose();
        using var expected = Unscoped(model, images);
        Assert.True(MaxRelative(inScope, expected) < 1e-5, $"{MaxRelative(inScope, expected):E2} off: stale folded weights were used");
    }

    [Fact]
    public void NestedScopesKeepTheWeightsUntilTheOuterOneEnds()
    {
        using var model = Model("smallcnn", 16);
        using var images = torch.rand(2, 3, 16, 16, generator: new Generator(7));
        var first = Convolutions(model)[0];
        using (InferenceScope.Begin(model))
        {
            using (InferenceScope.Begin(model))
            using (model.Logits(images)) { }
            Assert.Equal(1, first.KeptInferenceWeights);
        }
        Assert.Equal(0, first.KeptInferenceWeights);
    }

    /// <summary>Evaluation runs in a scope and agrees with per-batch logits computed without one.</summary>
    [Fact]
    public void EvaluationInAScopeAgreesWithUnscopedPredictions()
    {
        using var model = Model("smallcnn", 16);
        var data = TestData.Images(30, 3, 16, seed: 8, classNames: ["a", "b", "c"]);
        var result = ModelEvaluator.Evaluate(model, data, batchSize: 7);
        var reader = new ProtoPNet.Data.BatchReader(data, model.ImageSize, model.Normalization);
        int correct = 0;
        foreach (var batch in reader.Read(Enumerable.Range(0, data.Count).ToArray(), 30, model.Device))
            using (batch)
            using (var logits = Unscoped(model, batch.Images))
                correct += (int)logits.argmax(1).eq(batch.Labels).sum().item<long>();
        Assert.Equal(correct, (int)Math.Round(result.Accuracy * result.Count));
        Assert.All(Convolutions(model), c => Assert.Equal(0, c.KeptInferenceWeights));
    }

    /// <summary>The reference: the backbone's modules one after another, BatchNorm as its own pass.</summary>
    private static Tensor Unscoped(ProtoPNetModel model, Tensor images)
    {
        Assert.All(Convolutions(model), c => Assert.Equal(0, c.KeptInferenceWeights));
        return model.Logits(images);
    }
}
