namespace ProtoPNet.Evaluation;

/// <summary>Top-1 / top-5 accuracy, per-class accuracy and the confusion matrix (rows: true class, columns: predicted).</summary>
public sealed class EvaluationResult
{
    public string Model { get; init; } = "";
    public string Dataset { get; init; } = "";
    public double Accuracy { get; init; }
    public double Top5Accuracy { get; init; }
    public int Count { get; init; }
    /// <summary>Images whose true class is among the five highest logits (all of them when there are ≤ 5 classes).</summary>
    public int Top5Correct { get; init; }
    public int Skipped { get; init; }
    public IReadOnlyList<string> ClassNames { get; init; } = [];
    public IReadOnlyList<ClassAccuracy> PerClass { get; init; } = [];
    public int[,] Confusion { get; init; } = new int[0, 0];
    public double Seconds { get; init; }
    public double ImagesPerSecond { get; init; }
    /// <summary>The shard this result covers (0 of 1: the whole data set); after a merge, the shards merged.</summary>
    public int ShardIndex { get; init; }
    public int ShardCount { get; init; } = 1;
    /// <summary>How many shard results were merged into this one (1 for a result of Test-ProtoPNet).</summary>
    public int MergedShards { get; init; } = 1;

    /// <summary>
    /// Combines the results of the shards of one data set (<see cref="ProtoPNet.Data.DatasetShard"/>) into the result the
    /// whole data set would give: counts and confusion matrices add, accuracies are recomputed from them. Seconds add up
    /// (the compute time over all shards). Throws ShardMergeMismatch when the results are of different models, data sets
    /// or class lists, of different shard counts, or name a shard twice; a merge of fewer than all shards gives a result
    /// whose <see cref="MergedShards"/> is below <see cref="ShardCount"/> (Missing lists the shards that are not in it).
    /// </summary>
    public static EvaluationResult Merge(IEnumerable<EvaluationResult> results)
    {
        var parts = results.ToArray();
        if (parts.Length == 0)
            throw new ProtoPNetException("ShardMergeMismatch", ErrorKind.InvalidArgument, "There are no test results to merge.");
        var first = parts[0];
        int k = first.ClassNames.Count;
        int shardCount = first.ShardCount;
        var seen = new HashSet<int>();
        foreach (var p in parts)
        {
            string? problem =
                p.Model != first.Model ? $"model '{p.Model}' is not '{first.Model}'" :
                p.Dataset != first.Dataset ? $"data set '{p.Dataset}' is not '{first.Dataset}'" :
                !p.ClassNames.SequenceEqual(first.ClassNames, StringComparer.Ordinal) ? "the class names differ" :
                p.Confusion.GetLength(0) != k || p.Confusion.GetLength(1) != k ? "the confusion matrices differ in size" :
                p.ShardCount != shardCount ? $"a result of {p.ShardCount} shards meets one of {shardCount}" :
                p.MergedShards != 1 ? "a result is itself a merge" :
                !seen.Add(p.ShardIndex) ? $"shard {p.ShardIndex}/{shardCount} comes twice" : null;
            if (problem is not null)
                throw new ProtoPNetException("ShardMergeMismatch", ErrorKind.InvalidArgument, $"Cannot merge these test results: {problem}.", p.ShardIndex);
        }
        var confusion = new int[k, k];
        int count = 0, top5 = 0, skipped = 0;
        double seconds = 0;
        foreach (var p in parts)
        {
            for (int r = 0; r < k; r++)
                for (int c = 0; c < k; c++) confusion[r, c] += p.Confusion[r, c];
            count += p.Count; top5 += p.Top5Correct; skipped += p.Skipped; seconds += p.Seconds;
        }
        return ModelEvaluator.Summarize(first.Model, first.Dataset, first.ClassNames, confusion, top5, skipped, seconds,
            parts.Length == 1 ? first.ShardIndex : 0, shardCount, parts.Length, seen.ToArray());
    }

    /// <summary>
    /// A result from its counts, e.g. of a copy that crossed a process boundary (PowerShell remoting or Export-Clixml
    /// turn the confusion matrix into its elements in row-major order): accuracies are recomputed.
    /// </summary>
    public static EvaluationResult FromCounts(string model, string dataset, IReadOnlyList<string> classNames, IReadOnlyList<int> confusionRowMajor,
        int top5Correct, int skipped, double seconds, int shardIndex, int shardCount, int mergedShards = 1)
    {
        int k = classNames.Count;
        if (confusionRowMajor.Count != k * k)
            throw new ProtoPNetException("ShardMergeMismatch", ErrorKind.InvalidData,
                $"A confusion matrix of {k} classes has {k * k} elements, not {confusionRowMajor.Count}.", confusionRowMajor.Count);
        var confusion = new int[k, k];
        for (int r = 0; r < k; r++)
            for (int c = 0; c < k; c++) confusion[r, c] = confusionRowMajor[r * k + c];
        return ModelEvaluator.Summarize(model, dataset, classNames, confusion, top5Correct, skipped, seconds, shardIndex, shardCount, mergedShards);
    }

    /// <summary>The shards of <see cref="ShardCount"/> that this (merged) result does not cover.</summary>
    public int[] Missing { get; init; } = [];
}
