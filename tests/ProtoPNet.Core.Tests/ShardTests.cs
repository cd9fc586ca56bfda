using ProtoPNet.Data;
using ProtoPNet.Explanation;
using Xunit;
using ProtoPNet.Evaluation;

namespace ProtoPNet.Tests;

public class ShardTests
{
    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 1)]
    [InlineData(5, 2)]
    [InlineData(10, 3)]
    [InlineData(2, 7)]
    [InlineData(1001, 4)]
    public void ShardsAreDisjointCoveringBalancedAndRoundRobin(int count, int n)
    {
        var shards = Enumerable.Range(0, n).Select(k => DatasetShard.Indices(count, k, n)).ToArray();
        var all = shards.SelectMany(s => s).OrderBy(i => i).ToArray();
        Assert.Equal(Enumerable.Range(0, count), all);                      // covering and disjoint
        Assert.True(shards.Max(s => s.Length) - shards.Min(s => s.Length) <= 1);
        for (int k = 0; k < n; k++) Assert.All(shards[k], i => Assert.Equal(k, i % n));
        Assert.Equal(shards[n - 1], DatasetShard.Indices(count, n - 1, n)); // deterministic
    }

    [Theory]
    [InlineData(-1, 2)]
    [InlineData(2, 2)]
    [InlineData(0, 0)]
    public void ShardsThatDoNotExistAreInvalidShard(int k, int n)
    {
        var e = Assert.Throws<ProtoPNetException>(() => DatasetShard.Indices(10, k, n));
        Assert.Equal("InvalidShard", e.ErrorId);
    }

    [Fact]
    public void ASelectionIsShardedByItsItemsGlobalIndices()
    {
        int[] picked = [9, 2, 4, 7];
        Assert.Equal(new[] { 2, 4 }, DatasetShard.Select(10, picked, 0, 2));
        Assert.Equal(new[] { 9, 7 }, DatasetShard.Select(10, picked, 1, 2));
    }

    [Fact]
    public void ShardResultsMergeIntoTheWholeDataSetsResult()
    {
        using var model = TestData.Model(3);
        var data = TestData.Images(17, 3, 16, seed: 4);
        var whole = ModelEvaluator.Evaluate(model, data, batchSize: 5);
        var parts = Enumerable.Range(0, 3).Select(k => ModelEvaluator.Evaluate(model, data, 4, null, null, default, k, 3)).ToArray();
        Assert.Equal(new[] { 6, 6, 5 }, parts.Select(p => p.Count));
        var merged = EvaluationResult.Merge(parts.Reverse());
        Assert.Equal(whole.Count, merged.Count);
        Assert.Equal(whole.Accuracy, merged.Accuracy, 12);
        Assert.Equal(whole.Top5Correct, merged.Top5Correct);
        Assert.Equal(whole.Confusion, merged.Confusion);
        Assert.Equal(whole.PerClass.Select(c => c.Correct), merged.PerClass.Select(c => c.Correct));
        Assert.Equal(3, merged.MergedShards);
        Assert.Empty(merged.Missing);
        Assert.Equal(new[] { 1 }, EvaluationResult.Merge([parts[0], parts[2]]).Missing);
        var twice = Assert.Throws<ProtoPNetException>(() => EvaluationResult.Merge([parts[0], parts[0]]));
        Assert.Equal("ShardMergeMismatch", twice.ErrorId);
        var flat = whole.Confusion.Cast<int>().ToArray();
        var rebuilt = EvaluationResult.FromCounts(whole.Model, whole.Dataset, whole.ClassNames, flat, whole.Top5Correct, 0, 0, 0, 1);
        Assert.Equal(whole.Confusion, rebuilt.Confusion);
    }

    [Fact]
    public void ExplanationRowsOfDataSetItemsCarryTheirGlobalIndex()
    {
        using var model = TestData.Model(3);
        var data = TestData.Images(9, 3, 16, seed: 5);
        var explainer = new Explainer(model, new ExplanationOptions { Top = 2 });
        var shard = DatasetShard.Indices(data.Count, 1, 3);
        var results = explainer.Explain(shard.Select(i => ExplanationSource.FromDataset(data, i)).ToArray());
        Assert.Equal(shard, results.Select(r => r.ImageIndex));
        Assert.All(results, r => Assert.All(r.Rows, row => Assert.Equal(r.ImageIndex, row.ImageIndex)));
    }
}
