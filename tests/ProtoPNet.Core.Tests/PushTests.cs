using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Projection;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using ProtoPNet.Evaluation;

namespace ProtoPNet.Tests;

public class PushTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "ptpn-push-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
    }

    private static Tensor LatentOf(ProtoPNetModel model, ImageDataset data, int index)
    {
        using var loaded = data.Load(index, model.ImageSize);
        using var input = Normalize.Apply(loaded.Pixels.unsqueeze(0), model.Normalization);
        model.Network.eval();
        using var _ = torch.no_grad();
        return model.Network.Latent(input);
    }

    [Fact]
    public void EveryPrototypeEqualsTheRecordedPatchOfAnImageOfItsClass()
    {
        using var model = TestData.Model(3, prototypesPerClass: 3);
        var data = TestData.Images(20, 3, 16, seed: 4);
        var result = PrototypePush.Push(model, data, new PushOptions { BatchSize = 6 });
        Assert.Equal(9, result.Pushed);
        Assert.Empty(result.Unchanged);
        using var prototypes = model.Network.Prototypes.detach().clone();
        for (int j = 0; j < model.PrototypeCount; j++)
        {
            var p = model.Provenance[j]!;
            Assert.Equal(model.PrototypeClass[j], data.LabelOf(p.SourceIndex));
            Assert.Equal(data.SourceOf(p.SourceIndex), p.SourceImage);
            using var z = LatentOf(model, data, p.SourceIndex);
            var patch = z[0, TensorIndex.Colon, p.LatentRow, p.LatentColumn].data<float>().ToArray();
            var value = prototypes[j, TensorIndex.Colon, 0, 0].data<float>().ToArray();
            for (int k = 0; k < patch.Length; k++) Assert.True(Math.Abs(patch[k] - value[k]) <= 1e-6, $"prototype {j}, channel {k}: {value[k]} vs {patch[k]}");
            Assert.True(p.BoxWidth > 0 && p.BoxHeight > 0 && p.BoxX + p.BoxWidth <= 16 && p.BoxY + p.BoxHeight <= 16);
        }
    }

    [Fact]
    public void PrototypesPushedOntoTheSamePatchAreReportedAsSuch()
    {
        using var model = TestData.Model(2, prototypesPerClass: 3);
        using (torch.no_grad()) model.Network.Prototypes[1].copy_(model.Network.Prototypes[0]);   // same class, same vector
        var data = TestData.Images(10, 2, 16, seed: 5);
        var result = PrototypePush.Push(model, data, new PushOptions { BatchSize = 4 });
        var moves = result.Prototypes;
        Assert.Null(moves[0].SamePatchAs);
        Assert.Equal(0, moves[1].SamePatchAs);
        foreach (var move in moves.Where(x => x.SamePatchAs is int other))
        {
            var first = moves[move.SamePatchAs!.Value];
            Assert.True(first.Index < move.Index && first.SamePatchAs is null);
            Assert.Equal((first.SourceIndex, first.LatentRow, first.LatentColumn), (move.SourceIndex, move.LatentRow, move.LatentColumn));
        }
        int distinct = moves.Select(x => (x.SourceIndex, x.LatentRow, x.LatentColumn)).Distinct().Count();
        Assert.Equal(distinct, result.DistinctPatches);
        Assert.Equal(result.Pushed - moves.Count(x => x.SamePatchAs is not null), result.DistinctPatches);
        Assert.True(result.DistinctPatches < result.Pushed);
    }

    [Fact]
    public void PushIsNearestOwnClassPatchByExhaustiveSearch()
    {
        using var model = TestData.Model(2, prototypesPerClass: 2);
        var data = TestData.Images(8, 2, 16, seed: 11);
        using var before = model.Network.Prototypes.detach().clone();
        var result = PrototypePush.Push(model, data, new PushOptions { BatchSize = 3 });
        for (int j = 0; j < model.PrototypeCount; j++)
        {
            double best = double.PositiveInfinity;
            for (int i = 0; i < data.Count; i++)
            {
                if (data.LabelOf(i) != model.PrototypeClass[j]) continue;
                using var z = LatentOf(model, data, i);
                using var d = PrototypeDistances.Compute(z, before[j].unsqueeze(0));
                best = Math.Min(best, d.min().item<float>());
            }
            Assert.True(Math.Abs(best - result.Prototypes[j].Distance) <= 1e-5 * Math.Max(1, best), $"prototype {j}: {result.Prototypes[j].Distance} vs exhaustive {best}");
        }
    }

    [Fact]
    public void PushingTwiceIsIdempotent()
    {
        using var model = TestData.Model(2, prototypesPerClass: 3);
        var data = TestData.Images(12, 2, 16, seed: 6);
        PrototypePush.Push(model, data, new PushOptions { BatchSize = 5 });
        var first = TestData.State(model.Network, "prototype_vectors")["prototype_vectors"];
        var provenance = model.Provenance.ToArray();
        var again = PrototypePush.Push(model, data, new PushOptions { BatchSize = 5 });
        var second = TestData.State(model.Network, "prototype_vectors")["prototype_vectors"];
        Assert.True(TestData.BitIdentical(first, second));
        for (int j = 0; j < model.PrototypeCount; j++)
        {
            Assert.Equal(provenance[j]!.SourceIndex, model.Provenance[j]!.SourceIndex);
            Assert.Equal(provenance[j]!.LatentRow, model.Provenance[j]!.LatentRow);
            Assert.Equal(provenance[j]!.LatentColumn, model.Provenance[j]!.LatentColumn);
            Assert.True(again.Prototypes[j].Distance < 1e-5);
        }
    }

    [Fact]
    public void PrototypeOfAnAbsentClassIsReportedAndLeftUnchanged()
    {
        using var model = TestData.Model(2, prototypesPerClass: 2);
        var onlyClassZero = TestData.Images(6, 2, 16, seed: 2, labels: [0, 0, 0, 0, 0, 0]);
        var before = TestData.State(model.Network, "prototype_vectors")["prototype_vectors"];
        var warnings = new List<string>();
        var result = PrototypePush.Push(model, onlyClassZero, warning: warnings.Add);
        Assert.Equal([2, 3], result.Unchanged);
        Assert.Equal(2, warnings.Count);
        var after = TestData.State(model.Network, "prototype_vectors")["prototype_vectors"];
        int perPrototype = before.Length / 4;
        Assert.True(TestData.BitIdentical(before[(2 * perPrototype)..], after[(2 * perPrototype)..]));
        Assert.False(TestData.BitIdentical(before[..perPrototype], after[..perPrototype]));
        Assert.Null(model.Provenance[2]);
        Assert.False(result.Prototypes[3].Moved);
    }

    [Fact]
    public void RenderingWritesThreePicturesPerPrototypeAndComparisonCountsChangedPredictions()
    {
        using var model = TestData.Model(2, prototypesPerClass: 1);
        var data = TestData.Images(6, 2, 16, seed: 3);
        var result = PrototypePush.Push(model, data, new PushOptions { OutputDirectory = directory, ComparisonDataset = data });
        foreach (int j in new[] { 0, 1 })
        {
            foreach (var kind in new[] { "source", "patch", "activation" })
                Assert.True(File.Exists(Path.Combine(directory, $"prototype-{j}-{kind}.png")), $"{j} {kind}");
            // The crop is the recorded box, and the source picture shows that box's outline (the images are at input size).
            var provenance = model.Provenance[j]!;
            using var patch = SixLabors.ImageSharp.Image.Load<SixLabors.ImageSharp.PixelFormats.Rgb24>(Path.Combine(directory, $"prototype-{j}-patch.png"));
            Assert.Equal((provenance.BoxWidth, provenance.BoxHeight), (patch.Width, patch.Height));
            using var source = SixLabors.ImageSharp.Image.Load<SixLabors.ImageSharp.PixelFormats.Rgb24>(Path.Combine(directory, $"prototype-{j}-source.png"));
            Assert.Equal(new SixLabors.ImageSharp.PixelFormats.Rgb24(255, 255, 0), source[provenance.BoxX, provenance.BoxY]);
        }
        Assert.Empty(Directory.GetFiles(directory, "*.tmp", SearchOption.AllDirectories));   // every picture was renamed into place
        Assert.Equal(6, result.ComparisonCount);
        Assert.InRange(result.PredictionsChanged!.Value, 0, 6);
        Assert.Equal(Evaluation.ModelEvaluator.Evaluate(model, data).Accuracy, result.AccuracyAfter!.Value, 10);
    }

    [Fact]
    public void ShortlistSearchFindsTheExactNearestPatchWheneverItsImageIsShortlisted()
    {
        // Two identical, briefly trained models (training is deterministic): an untrained network maps every image to
        // nearly the same latent patches, and bfloat16 cannot rank distances that close (the documented limit).
        using var exactModel = TestData.Model(3, prototypesPerClass: 2, seed: 4);
        using var shortlistModel = TestData.Model(3, prototypesPerClass: 2, seed: 4);
        var data = TestData.Images(60, 3, 16, seed: 5);
        var training = new Training.TrainingOptions { Phases = [Training.TrainingPhase.Joint(4)], BatchSize = 8, Seed = 42 };
        Training.ProtoPNetTrainer.Train(exactModel, data, null, training);
        Training.ProtoPNetTrainer.Train(shortlistModel, data, null, training);
        var (shortlist, read, _) = CandidateShortlist.Find(shortlistModel, data, 75, null, default);
        Assert.Equal(60, read);
        // 8 images per prototype, 2 prototypes per class of 20 images: the exact pass sees at most 48 of the 60.
        Assert.InRange(shortlist.Length, 8, 48);
        Assert.All(shortlist, i => Assert.InRange(i, 0, 59));
        var exact = PrototypePush.Push(exactModel, data);
        var shortlisted = PrototypePush.Push(shortlistModel, data, new PushOptions { Search = PushSearch.Shortlist });
        Assert.Equal((PushSearch.Shortlist, shortlist.Length, 60), (shortlisted.Search, shortlisted.ShortlistCount!.Value, shortlisted.ImageCount));
        int agreed = 0;
        for (int j = 0; j < 6; j++)
        {
            var e = exact.Prototypes[j];
            var s = shortlisted.Prototypes[j];
            Assert.Equal(data.LabelOf(s.SourceIndex), shortlistModel.PrototypeClass[j]);
            Assert.True(s.Distance >= e.Distance, $"prototype {j}: the shortlist cannot beat the exhaustive search");
            if (!shortlist.Contains(e.SourceIndex)) continue;
            agreed++;
            Assert.Equal((e.SourceIndex, e.LatentRow, e.LatentColumn, e.Distance), (s.SourceIndex, s.LatentRow, s.LatentColumn, s.Distance));
        }
        Assert.True(agreed >= 3, $"only {agreed} of 6 nearest images were shortlisted");
    }
}
