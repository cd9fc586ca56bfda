using ProtoPNet.Data;
using ProtoPNet.Model;

namespace ProtoPNet.Explanation;

/// <summary>The pruning rule's verdict on one prototype.</summary>
public sealed class PruningDecision
{
    public string Model { get; init; } = "";
    /// <summary>The prototype's index before pruning.</summary>
    public int PrototypeIndex { get; init; }
    public string PrototypeClass { get; init; } = "";
    /// <summary>How many of its K nearest training patches are of its own class.</summary>
    public int NearestOfClass { get; init; }
    public int K { get; init; }
    public int Threshold { get; init; }
    /// <summary>The classes of the K nearest patches, nearest first, separated by ';'.</summary>
    public string NearestClasses { get; init; } = "";
    public bool Prune { get; init; }
    public string Reason { get; init; } = "";
    /// <summary>
    /// Which rule decided: NearestPatches (the authors' k-nearest rule), SamePatch (push put it on the same training
    /// patch as an earlier prototype: the same vector, merged into that one) or LastOfClass (kept: every other prototype
    /// of its class goes).
    /// </summary>
    public string Rule { get; init; } = "NearestPatches";
}

/// <summary>
/// The authors' prototype pruning: a prototype whose k nearest training patches (one per image) include fewer than
/// τ of its own class is pruned (defaults k = 6, τ = 3). Such prototypes encode background or parts shared across classes.
/// Re-optimize the last layer afterwards.
/// </summary>
public static class PrototypePruning
{
    public static IReadOnlyList<PruningDecision> Evaluate(ProtoPNetModel model, ImageDataset dataset, int k = 6, int threshold = 3,
        IProgress<StageProgress>? progress = null, CancellationToken cancel = default)
    {
        if (threshold < 1 || threshold > k)
            throw new ProtoPNetException("InvalidThreshold", ErrorKind.InvalidArgument, $"Threshold must be between 1 and K ({k}).", threshold);
        if (!dataset.ClassNames.Intersect(model.ClassNames, StringComparer.Ordinal).Any())
            throw new ProtoPNetException("DatasetClassMismatch", ErrorKind.InvalidArgument,
                $"Dataset '{dataset.Name}' shares no class name with the model; pruning compares classes by name.", dataset.Name);
        var nearest = NearestPatches.Find(model, dataset, k, boxes: false, progress: progress, cancel: cancel).PerPrototype;
        return nearest.Select((patches, j) =>
        {
            string own = model.ClassNames[model.PrototypeClass[j]];
            int ofClass = patches.Count(p => p.ImageClass == own);
            bool prune = ofClass < threshold;
            return new PruningDecision
            {
                Model = model.Name,
                PrototypeIndex = j,
                PrototypeClass = own,
                NearestOfClass = ofClass,
                K = k,
                Threshold = threshold,
                NearestClasses = string.Join(";", patches.Select(p => p.ImageClass)),
                Prune = prune,
                Reason = prune
                    ? $"only {ofClass} of its {patches.Count} nearest training patches are of class '{own}' (fewer than {threshold})"
                    : $"{ofClass} of its {patches.Count} nearest training patches are of class '{own}'",
            };
        }).ToList();
    }

    /// <summary>
    /// The pruning Invoke-PrototypePush applies by default (docs/algorithm.md, "Pruning after push"): the authors' rule,
    /// then every prototype push put on the same training patch as a lower-numbered one (<paramref name="samePatchAs"/>:
    /// prototype → that one) is merged into it, and a class never loses its last prototype (the one with the most
    /// own-class nearest patches, then the lowest index, stays).
    /// </summary>
    public static IReadOnlyList<PruningDecision> AfterPush(ProtoPNetModel model, ImageDataset dataset, IReadOnlyDictionary<int, int> samePatchAs,
        int k = 6, int threshold = 3, IProgress<StageProgress>? progress = null, CancellationToken cancel = default)
    {
        var decisions = Evaluate(model, dataset, k, threshold, progress, cancel).ToArray();
        foreach (var (j, earlier) in samePatchAs)
            if (!decisions[j].Prune)
                decisions[j] = Copy(decisions[j], true, "SamePatch", $"push put it on the same training patch as prototype {earlier}: the same vector, merged into it");
        foreach (var ofClass in decisions.GroupBy(d => d.PrototypeClass))
        {
            if (ofClass.Any(d => !d.Prune)) continue;
            var keep = ofClass.OrderBy(d => d.Rule == "SamePatch").ThenByDescending(d => d.NearestOfClass).ThenBy(d => d.PrototypeIndex).First();
            decisions[keep.PrototypeIndex] = Copy(keep, false, "LastOfClass",
                $"kept as the last prototype of class '{keep.PrototypeClass}' ({keep.NearestOfClass} of its {keep.K} nearest training patches are of its class)");
        }
        return decisions;
    }

    private static PruningDecision Copy(PruningDecision d, bool prune, string rule, string reason) => new()
    {
        Model = d.Model, PrototypeIndex = d.PrototypeIndex, PrototypeClass = d.PrototypeClass, NearestOfClass = d.NearestOfClass, K = d.K,
        Threshold = d.Threshold, NearestClasses = d.NearestClasses, Prune = prune, Rule = rule, Reason = reason,
    };

    /// <summary>Removes the prototypes <paramref name="remove"/> (indices) and records it in the model's history.</summary>
    public static void Remove(ProtoPNetModel model, IReadOnlyCollection<int> remove, int k, int threshold)
    {
        if (remove.Count == 0) return;
        var drop = remove.ToHashSet();
        var keep = Enumerable.Range(0, model.PrototypeCount).Where(j => !drop.Contains(j)).ToArray();
        if (keep.Length == 0)
            throw new ProtoPNetException("PruningWouldRemoveAll", ErrorKind.InvalidOperation,
                "Pruning would remove every prototype of the model; nothing was removed. Check the dataset (is it the model's training set?).");
        model.RemovePrototypes(keep);
        model.History.Add(new HistoryEntry
        {
            Stage = "Prune",
            Values = new() { ["Removed"] = drop.Count, ["Remaining"] = keep.Length, ["K"] = k, ["Threshold"] = threshold },
            Note = "removed prototypes " + string.Join(",", drop.Order()),
        });
    }
}
