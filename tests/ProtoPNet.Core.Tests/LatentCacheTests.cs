using ProtoPNet.LastLayer;
using ProtoPNet.Model;
using ProtoPNet.Projection;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ProtoPNet.Tests;

/// <summary>Push keeps z for the last layer that follows: the same similarity vectors without a second network pass,
/// and never once the weights or the dataset changed.</summary>
public sealed class LatentCacheTests
{
    [Fact]
    public void TheLastLayerAfterPushUsesPushsLatentsAndGetsTheVectorsAFullPassGives()
    {
        using var model = TestData.Model(2, prototypesPerClass: 2);
        var data = TestData.Images(12, 2, 16, seed: 3);
        PrototypePush.Push(model, data);
        Assert.NotNull(model.LatentCache);
        var (cached, cachedLabels) = LastLayerOptimizer.SimilarityVectors(model, data, 5, null, default);
        model.KeepLatents(null);
        var (computed, labels) = LastLayerOptimizer.SimilarityVectors(model, data, 5, null, default);
        Assert.Equal(labels.data<long>().ToArray(), cachedLabels.data<long>().ToArray());
        double gap = (cached - computed).abs().max().item<double>() / computed.abs().max().item<double>();
        Assert.True(gap <= 1e-6, $"largest relative gap {gap:E2} between cached and computed similarity vectors");

        PrototypePush.Push(model, data);
        var result = LastLayerOptimizer.Optimize(model, data, new LastLayerOptions { Lambda = 1e-3 });
        Assert.True(result.FromPushLatents);
        Assert.NotNull(model.LatentCache);   // kept: a second solve (another λ) can use it too
    }

    [Fact]
    public void ChangedWeightsOrAnotherDatasetObjectRecomputeAndDropTheCache()
    {
        using var model = TestData.Model(2, prototypesPerClass: 2);
        var data = TestData.Images(12, 2, 16, seed: 3);
        PrototypePush.Push(model, data);
        var sameImages = TestData.Images(12, 2, 16, seed: 3);
        Assert.False(LastLayerOptimizer.Optimize(model, sameImages).FromPushLatents);   // a different dataset object
        Assert.Null(model.LatentCache);

        PrototypePush.Push(model, data);
        using (no_grad())
        {
            // A BatchNorm statistic is part of what z depends on, though no parameter.
            var runningMean = model.Network.Backbone.state_dict().First(kv => kv.Key.EndsWith("running_mean")).Value;
            runningMean.add_(torch.ones_like(runningMean));
        }
        Assert.False(LastLayerOptimizer.Optimize(model, data).FromPushLatents);
        Assert.Null(model.LatentCache);
    }

    [Fact]
    public void AShortlistPushKeepsNoLatents()
    {
        using var model = TestData.Model(2, prototypesPerClass: 2);
        var data = TestData.Images(12, 2, 16, seed: 3);
        PrototypePush.Push(model, data, new PushOptions { Search = PushSearch.Shortlist });
        Assert.Null(model.LatentCache);
    }
}
