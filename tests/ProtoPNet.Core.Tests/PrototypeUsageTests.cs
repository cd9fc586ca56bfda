using ProtoPNet.Data;
using ProtoPNet.Explanation;
using ProtoPNet.Model;
using TorchSharp;
using Xunit;

namespace ProtoPNet.Tests;

/// <summary>What decides: own-class weights and top-evidence counts, and the pruning push applies by default.</summary>
public class PrototypeUsageTests
{
    private static TensorDataset Images(int count, int seed, int[] labels)
    {
        torch.manual_seed(seed);
        return new TensorDataset("random", torch.rand(count, 3, 28, 28), labels, ["a", "b", "c"]);
    }

    [Fact]
    public void WeightsAreTheOwnClassColumnAndTopEvidenceCountsTheExplanationsFirstRows()
    {
        using var model = ExplanationTests.SmallModel(71);
        using (torch.no_grad())
        {
            // Distinct weights, one of them negative, so that the own-class entry and the share are checked.
            var w = torch.arange(model.ClassCount * model.PrototypeCount, dtype: torch.float32).reshape(model.ClassCount, model.PrototypeCount) / 10 + 0.1;
            w[model.PrototypeClass[1], 1] = torch.tensor(-0.5f);
            model.Network.LastLayer.weight!.copy_(w);
        }
        var data = Images(9, 72, [0, 1, 2, 0, 1, 2, 0, 1, 2]);
        var (usage, skipped) = PrototypeUsageMeter.Measure(model, data, batchSize: 4);
        Assert.Empty(skipped);
        var u = usage[0];
        float[] weights = model.Network.LastLayer.weight!.detach().data<float>().ToArray();
        int m = model.PrototypeCount;
        for (int j = 0; j < m; j++)
            Assert.Equal(weights[model.PrototypeClass[j] * m + j], u[j].Weight, 6);
        Assert.False(u[1].CarriesWeight);
        Assert.Equal(0, u[1].WeightShare);
        foreach (var ofClass in u.GroupBy(x => model.PrototypeClass[x.Prototype]))
            Assert.Equal(1.0, ofClass.Sum(x => x.WeightShare), 9);

        var explainer = new Explainer(model, new ExplanationOptions { Top = 1 });
        var top = explainer.Explain(Enumerable.Range(0, data.Count).Select(i => ExplanationSource.FromDataset(data, i)).ToArray());
        for (int j = 0; j < m; j++)
            Assert.Equal(top.Count(r => r.Rows[0].PrototypeIndex == j), u[j].TopEvidence);
        Assert.Equal(9, u.Sum(x => x.TopEvidence));
        Assert.All(u, x => Assert.Equal(9, x.Images));
    }

    [Fact]
    public void PruningAfterPushMergesSamePatchPrototypesAndKeepsTheLastOfEachClass()
    {
        using var model = ExplanationTests.SmallModel(73);   // classes a, b, c; prototypes 0-1 a, 2-3 b, 4-5 c
        // Every image is labelled 'a': the prototypes of b and c have no nearest patch of their class.
        var data = Images(8, 74, Enumerable.Repeat(0, 8).ToArray());
        var decisions = PrototypePruning.AfterPush(model, data, new Dictionary<int, int> { [1] = 0 });
        Assert.False(decisions[0].Prune);
        Assert.True(decisions[1].Prune);
        Assert.Equal("SamePatch", decisions[1].Rule);
        Assert.Contains("same training patch as prototype 0", decisions[1].Reason);
        foreach (var (first, second) in new[] { (2, 3), (4, 5) })
        {
            // Both fail the authors' rule; the lower index stays as the last of its class.
            Assert.False(decisions[first].Prune);
            Assert.Equal("LastOfClass", decisions[first].Rule);
            Assert.True(decisions[second].Prune);
            Assert.Equal("NearestPatches", decisions[second].Rule);
        }
        PrototypePruning.Remove(model, decisions.Where(d => d.Prune).Select(d => d.PrototypeIndex).ToArray(), 6, 3);
        Assert.Equal([0, 1, 2], model.PrototypeClass);
    }
}
