using System.Diagnostics;
using ProtoPNet.Data;
using ProtoPNet.Model;
using TorchSharp;
using static TorchSharp.torch;
using ProtoPNet.Evaluation;

namespace ProtoPNet.Projection;

/// <summary>
/// Stage 2 (paper §2.2): p_j ← the latent patch nearest to p_j among all patches of all push-set images of p_j's class.
/// Eval mode, no grad, one pass over the data in batches; per prototype only the running best (distance, image,
/// latent position, patch vector) is kept, so memory is bounded by the batch, not the dataset.
/// </summary>
public static partial class PrototypePush
{
    public static PushResult Push(ProtoPNetModel model, ImageDataset dataset, PushOptions? options = null,
        IProgress<StageProgress>? progress = null, Action<string>? warning = null, CancellationToken cancel = default)
    {
        options ??= new PushOptions();
        ClassNameCheck.RequireSameClasses(model, dataset);
        if (options.ComparisonDataset is not null) ClassNameCheck.RequireSameClasses(model, options.ComparisonDataset);
        if (options.BatchSize < 1)
            throw new ProtoPNetException("InvalidBatchSize", ErrorKind.InvalidArgument, "BatchSize must be at least 1.", options.BatchSize);

        lock (model.SyncRoot)
        {
            var network = model.Network;
            bool wasTraining = network.training;
            network.eval();
            try
            {
                using var _ = torch.no_grad();
                using var inference = InferenceScope.Begin(model);
                // Holds every temporary of the stage; what the model keeps (its latent cache) is detached where it is made.
                using var stage = NewDisposeScope();
                var clock = Stopwatch.StartNew();
                long[]? before = options.ComparisonDataset is null ? null
                    : ModelEvaluator.Predict(model, options.ComparisonDataset, 100, cancel).Predicted;

                // After training that ended with the backbone frozen, the model keeps the backbone's output over the
                // training set: over that set the exact search needs only the add-on (and beats any shortlist).
                var features = model.KeptFeatures is { } kept && kept.Matches(network, dataset) ? kept : null;
                if (features is null) model.KeepFeatures(null);   // stale or for another set: not held any longer
                var scan = options.Search == PushSearch.Shortlist && features is null
                    ? ShortlistedScan(model, dataset, options.BatchSize, progress, cancel)
                    : Scan(model, dataset, options.BatchSize, keepLatents: true, progress, cancel, features);
                // z does not depend on the prototypes: the last layer that usually follows computes its similarity vectors from it.
                model.KeepLatents(scan.Latents is var (keptLatents, keptLabels) ? LatentCache.Create(network, dataset, keptLatents, keptLabels) : null);
                int m = model.PrototypeCount;
                var prototypes = network.Prototypes;
                var shape = prototypes.shape;
                var found = new bool[m];
                for (int j = 0; j < m; j++) found[j] = scan.Image[j] >= 0;
                using (var foundMask = torch.tensor(found, device: prototypes.device).view(-1, 1, 1, 1))
                using (var patches = scan.Patch.view(shape).to(prototypes.dtype))
                {
                    // Prototypes without a candidate keep their value: never zeroed.
                    prototypes.copy_(torch.where(foundMask, patches, prototypes));
                }
                scan.Patch.Dispose();

                var unchanged = Enumerable.Range(0, m).Where(j => !found[j]).ToArray();
                foreach (int j in unchanged)
                    warning?.Invoke($"Prototype {j} (class '{model.ClassNames[model.PrototypeClass[j]]}') found no candidate: the push set has no image of its class. It was left unchanged.");

                double renderSeconds = 0;
                var moves = Locate(model, dataset, scan, options.OutputDirectory, ref renderSeconds, progress, cancel);
                int distinctPatches = PrototypeMove.MarkSharedPatches(moves);
                int? changed = null, comparisonCount = null;
                double? accBefore = null, accAfter = null;
                if (before is not null)
                {
                    var after = ModelEvaluator.Predict(model, options.ComparisonDataset!, 100, cancel);
                    var labels = after.Labels;
                    int n = 0, c = 0, rightBefore = 0, rightAfter = 0;
                    for (int i = 0; i < after.Predicted.Length; i++)
                    {
                        if (after.Predicted[i] < 0 || before[i] < 0) continue;
                        n++;
                        if (after.Predicted[i] != before[i]) c++;
                        if (before[i] == labels[i]) rightBefore++;
                        if (after.Predicted[i] == labels[i]) rightAfter++;
                    }
                    changed = c;
                    comparisonCount = n;
                    accBefore = n == 0 ? double.NaN : (double)rightBefore / n;
                    accAfter = n == 0 ? double.NaN : (double)rightAfter / n;
                }
                var distances = moves.Where(x => x.Moved).Select(x => x.Distance).OrderBy(x => x).ToArray();
                var result = new PushResult
                {
                    Model = model.Name,
                    Dataset = dataset.Name,
                    PrototypeCount = m,
                    Kept = m,
                    Pushed = m - unchanged.Length,
                    Unchanged = unchanged,
                    DistinctPatches = distinctPatches,
                    MeanDistance = distances.Length == 0 ? double.NaN : distances.Average(),
                    MedianDistance = distances.Length == 0 ? double.NaN : distances[distances.Length / 2],
                    MaxDistance = distances.Length == 0 ? double.NaN : distances[^1],
                    Prototypes = moves,
                    ImageCount = scan.ImageCount,
                    Skipped = scan.Skipped,
                    Search = scan.ShortlistCount is null ? PushSearch.Exact : PushSearch.Shortlist,
                    FromKeptFeatures = scan.FromKeptFeatures,
                    ShortlistCount = scan.ShortlistCount,
                    ComparisonCount = comparisonCount,
                    PredictionsChanged = changed,
                    AccuracyBefore = accBefore,
                    AccuracyAfter = accAfter,
                    OutputDirectory = options.OutputDirectory,
                    Seconds = clock.Elapsed.TotalSeconds,
                    RenderSeconds = renderSeconds,
                };
                model.History.Add(HistoryEntry.Record("Push", dataset.Name, new()
                {
                    ["Pushed"] = result.Pushed,
                    ["DistinctPatches"] = result.DistinctPatches,
                    ["MeanDistance"] = result.MeanDistance,
                    ["MaxDistance"] = result.MaxDistance,
                    ["Images"] = result.ImageCount,
                }));
                return result;
            }
            finally
            {
                if (wasTraining) network.train();
            }
        }
    }
}
