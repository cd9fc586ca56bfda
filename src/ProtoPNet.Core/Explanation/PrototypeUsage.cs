using ProtoPNet.Data;
using ProtoPNet.Model;

namespace ProtoPNet.Explanation;

/// <summary>
/// How much one prototype decides: its weight for its own class (and that weight's share of the class's positive
/// own-class weight) and, measured on a data set, how often it is the top evidence for the predicted class.
/// </summary>
public sealed record PrototypeUsage
{
    public int Member { get; init; }
    public int Prototype { get; init; }
    /// <summary>The last layer's weight from this prototype to its own class.</summary>
    public double Weight { get; init; }
    /// <summary>max(Weight, 0) over the sum of the positive own-class weights of its class's prototypes (0 when none is positive).</summary>
    public double WeightShare { get; init; }
    /// <summary>Images of the data set on which it is the top evidence (largest similarity × weight for the predicted class); null without a data set.</summary>
    public int? TopEvidence { get; init; }
    /// <summary>Images the top-evidence count was taken over (those that loaded).</summary>
    public int? Images { get; init; }

    /// <summary>A prototype with no positive weight for its class adds nothing to its class's logit.</summary>
    public bool CarriesWeight => Weight > 0;
}

/// <summary>Computes <see cref="PrototypeUsage"/> for every prototype of a model or ensemble.</summary>
public static class PrototypeUsageMeter
{
    /// <summary>Weights only (no data pass): one list per member, indexed by prototype.</summary>
    public static IReadOnlyList<PrototypeUsage>[] Weights(IClassifier classifier) =>
        classifier.Members.Select((model, m) => WeightsOf(model, m, null, null)).ToArray();

    /// <summary>
    /// Weights and top-evidence counts over <paramref name="dataset"/>: one explanation pass with one row per image
    /// (the same ranking Get-Explanation gives). Items that fail to load are skipped and returned.
    /// </summary>
    public static (IReadOnlyList<PrototypeUsage>[] Usage, IReadOnlyList<SkippedItem> Skipped) Measure(IClassifier classifier, ImageDataset dataset,
        int batchSize = 64, IProgress<StageProgress>? progress = null, CancellationToken cancel = default)
    {
        var counts = classifier.Members.Select(m => new int[m.PrototypeCount]).ToArray();
        var skipped = new List<SkippedItem>();
        var explainer = new Explainer(classifier, new ExplanationOptions { Top = 1 });
        int images = 0, done = 0;
        foreach (var chunk in Enumerable.Range(0, dataset.Count).Chunk(batchSize))
        {
            cancel.ThrowIfCancellationRequested();
            foreach (var result in explainer.Explain(chunk.Select(i => ExplanationSource.FromDataset(dataset, i)).ToArray(), cancel))
            {
                if (result.Error is { } error) { skipped.Add(new SkippedItem(result.ImageIndex, result.ImagePath, error)); continue; }
                var top = result.Rows[0];
                counts[top.MemberIndex][top.PrototypeIndex]++;
                images++;
            }
            done += chunk.Length;
            progress?.Report(new StageProgress(done, dataset.Count));
        }
        var usage = classifier.Members.Select((model, m) => WeightsOf(model, m, counts[m], images)).ToArray();
        return (usage, skipped);
    }

    private static IReadOnlyList<PrototypeUsage> WeightsOf(ProtoPNetModel model, int member, int[]? topEvidence, int? images)
    {
        int m = model.PrototypeCount;
        var own = model.OwnClassWeights();
        var positive = new double[model.ClassCount];
        for (int j = 0; j < m; j++) positive[model.PrototypeClass[j]] += Math.Max(0, own[j]);
        return Enumerable.Range(0, m).Select(j => new PrototypeUsage
        {
            Member = member,
            Prototype = j,
            Weight = own[j],
            WeightShare = positive[model.PrototypeClass[j]] > 0 ? Math.Max(0, own[j]) / positive[model.PrototypeClass[j]] : 0,
            TopEvidence = topEvidence?[j],
            Images = images,
        }).ToList();
    }
}
