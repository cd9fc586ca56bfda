using ProtoPNet.Runtime;
using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Projection;
using ProtoPNet.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ProtoPNet.Tests;

/// <summary>
/// Training that ends with the backbone frozen leaves the backbone's output over the training set on the model; push
/// over that set starts from it, and the result is the push from the images, bit for bit. Anything that changes what
/// the backbone would compute — another dataset object, a changed weight, joint training, another precision — is noticed.
/// </summary>
public class KeptFeaturesTests
{
    private static TrainingOptions Warm(int epochs = 1) => new() { Phases = [TrainingPhase.Warm(epochs)], BatchSize = 8, Seed = 42 };

    /// <summary>A model with the same weights and no kept features.</summary>
    private static ProtoPNetModel Copy(ProtoPNetModel model)
    {
        var copy = TestData.Model(2);
        copy.Network.load_state_dict(model.Network.state_dict());
        return copy;
    }

    private static void AssertSamePush(PushResult expected, ProtoPNetModel expectedModel, PushResult actual, ProtoPNetModel actualModel)
    {
        Assert.Equal(expected.ImageCount, actual.ImageCount);
        Assert.Equal(expected.Prototypes.Select(p => (p.SourceIndex, p.LatentRow, p.LatentColumn, p.Distance)), actual.Prototypes.Select(p => (p.SourceIndex, p.LatentRow, p.LatentColumn, p.Distance)));
        Assert.True(TestData.BitIdentical(TestData.State(expectedModel.Network, "prototype_vectors")["prototype_vectors"],
            TestData.State(actualModel.Network, "prototype_vectors")["prototype_vectors"]));
    }

    [Fact]
    public void PushFromKeptFeaturesEqualsPushFromTheImages()
    {
        using var model = TestData.Model(2);
        var data = TestData.Images(30, 2, 16, seed: 3);
        ProtoPNetTrainer.Train(model, data, null, Warm(2));
        Assert.NotNull(model.KeptFeatures);
        using var copy = Copy(model);
        Assert.Null(copy.KeptFeatures);

        var fromFeatures = PrototypePush.Push(model, data, new PushOptions { BatchSize = 7 });
        var fromImages = PrototypePush.Push(copy, data, new PushOptions { BatchSize = 7 });
        Assert.True(fromFeatures.FromKeptFeatures);
        Assert.False(fromImages.FromKeptFeatures);
        AssertSamePush(fromImages, copy, fromFeatures, model);
        // The latents it keeps for the last layer are the images' too.
        Assert.True(TestData.BitIdentical(model.LatentCache!.Latents.data<float>().ToArray(), copy.LatentCache!.Latents.data<float>().ToArray()));
        // A shortlist asked for runs the exact search from the features.
        var again = PrototypePush.Push(model, data, new PushOptions { Search = PushSearch.Shortlist });
        Assert.True(again.FromKeptFeatures);
        Assert.Equal(PushSearch.Exact, again.Search);
    }

    [Fact]
    public void AnotherDatasetOrAChangedBackboneIsPushedFromTheImages()
    {
        using var model = TestData.Model(2);
        var data = TestData.Images(24, 2, 16, seed: 3);
        ProtoPNetTrainer.Train(model, data, null, Warm());
        var sameImages = TestData.Images(24, 2, 16, seed: 3);
        Assert.False(PrototypePush.Push(model, sameImages).FromKeptFeatures);   // equal images, but not the dataset trained on

        using (no_grad())
        {
            var bias = model.Network.Backbone.named_parameters().First(p => p.name.EndsWith("bn4.bias")).parameter;
            bias.add_(ScalarMath.Full([bias.shape[0]], 1e-3, bias.dtype, bias.device));
        }
        using var copy = Copy(model);
        var pushed = PrototypePush.Push(model, data);
        Assert.False(pushed.FromKeptFeatures);
        AssertSamePush(PrototypePush.Push(copy, data), copy, pushed, model);
    }

    [Fact]
    public void JointTrainingDropsTheKeptFeaturesAndAWarmRunReusesThem()
    {
        using var model = TestData.Model(2);
        var data = TestData.Images(24, 2, 16, seed: 3);
        ProtoPNetTrainer.Train(model, data, null, Warm());
        var kept = model.KeptFeatures;
        Assert.NotNull(kept);
        ProtoPNetTrainer.Train(model, data, null, Warm());
        Assert.Same(kept, model.KeptFeatures);   // the second run's frozen epochs started from them

        ProtoPNetTrainer.Train(model, data, null, Warm() with { Phases = [TrainingPhase.Warm(1), TrainingPhase.Joint(1)] });
        Assert.Null(model.KeptFeatures);          // the run ended with the backbone changed
        Assert.False(PrototypePush.Push(model, data).FromKeptFeatures);
    }

    [Fact]
    public void FeaturesOfAnotherPrecisionAreNotKeptAndARunThatCannotUseThemDropsThem()
    {
        using var model = TestData.Model(2);
        var data = TestData.Images(24, 2, 16, seed: 3);
        ProtoPNetTrainer.Train(model, data, null, Warm() with { Precision = ComputePrecision.BFloat16 });
        Assert.Null(model.KeptFeatures);   // push computes in float32
        ProtoPNetTrainer.Train(model, data, null, Warm());
        Assert.NotNull(model.KeptFeatures);
        ProtoPNetTrainer.Train(model, data, null, Warm() with { FeatureCacheBytes = 0 });
        Assert.Null(model.KeptFeatures);   // a run without a cache does not leave a stale one behind
        ProtoPNetTrainer.Train(model, data, null, Warm());
        ProtoPNetTrainer.Train(model, data, null, Warm() with { WarmBatchNorm = WarmBatchNorm.Train });
        Assert.Null(model.KeptFeatures);   // batch statistics: the run could not use them, and it moved the statistics
    }

    [Fact]
    public void ARunThatReusesKeptFeaturesReportsTheImagesTheyLeftOut()
    {
        using var model = TestData.Model(2);
        var data = new OneBrokenItem(TestData.Images(24, 2, 16, seed: 3), broken: 5);
        var first = ProtoPNetTrainer.Train(model, data, null, Warm());
        Assert.Equal(5, Assert.Single(first.Skipped).Index);
        var kept = model.KeptFeatures;
        var second = ProtoPNetTrainer.Train(model, data, null, Warm());
        Assert.Same(kept, model.KeptFeatures);
        Assert.Equal(5, Assert.Single(second.Skipped).Index);   // read from no image, still reported
        var pushed = PrototypePush.Push(model, data);
        Assert.True(pushed.FromKeptFeatures);
        Assert.Equal((23, 1), (pushed.ImageCount, pushed.Skipped));
        Assert.DoesNotContain(pushed.Prototypes, p => p.SourceIndex == 5);
    }

    [Fact]
    public void APooledHeadPhaseThatDoesNotTrainTheBackboneIsRefused()
    {
        // It would read cached features where it needs images.
        using var model = TestData.Model(2);
        var phase = TrainingPhase.Backbone(1) with { Groups = [new(ParameterGroup.AddOn, 1e-3, 0)] };
        var e = Assert.Throws<ProtoPNetException>(() => ProtoPNetTrainer.Train(model, TestData.Images(8, 2, 16, seed: 3), null, Warm() with { Phases = [phase] }));
        Assert.Equal("PooledHeadWithoutBackbone", e.ErrorId);
    }

    /// <summary>A dataset whose item <paramref name="broken"/> fails to load, as a corrupt image file does.</summary>
    private sealed class OneBrokenItem(ImageDataset inner, int broken) : ImageDataset
    {
        public override string Name => inner.Name;
        public override IReadOnlyList<string> ClassNames => inner.ClassNames;
        public override int Count => inner.Count;
        public override int LabelOf(int index) => inner.LabelOf(index);
        public override string SourceOf(int index) => inner.SourceOf(index);
        public override LoadedImage Load(int index, int size) => index == broken
            ? throw new ProtoPNetException("CorruptImage", ErrorKind.InvalidData, $"Item {index} cannot be decoded.", index)
            : inner.Load(index, size);
    }
}
