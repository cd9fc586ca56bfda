using ProtoPNet.Data;
using ProtoPNet.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Training;

/// <summary>Accuracy of one true class.</summary>
public sealed class ClassAccuracy
{
    public int ClassIndex { get; init; }
    public string Class { get; init; } = "";
    public int Count { get; init; }
    public int Correct { get; init; }
    /// <summary>NaN when the dataset has no image of this class.</summary>
    public double Accuracy { get; init; }
}

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

public static class ModelEvaluator
{
    /// <summary>Throws ClassMismatch unless the dataset has the model's classes in the model's order.</summary>
    public static void RequireSameClasses(IClassifier model, ImageDataset dataset)
    {
        if (!model.ClassNames.SequenceEqual(dataset.ClassNames, StringComparer.Ordinal))
            throw new ProtoPNetException("ClassMismatch", ErrorKind.InvalidArgument,
                $"Dataset '{dataset.Name}' has classes ({Describe(dataset.ClassNames)}) but model '{model.Name}' was built for ({Describe(model.ClassNames)}). " +
                "The class names and their order must be the same.", dataset.Name);
    }

    private static string Describe(IReadOnlyList<string> names) =>
        names.Count <= 6 ? string.Join(", ", names) : $"{names.Count}: {string.Join(", ", names.Take(5))}, …";

    /// <summary>Eval-mode, no-grad pass over <paramref name="dataset"/> (optionally only <paramref name="indices"/>) of a model or an ensemble.</summary>
    public static EvaluationResult Evaluate(IClassifier model, ImageDataset dataset, int batchSize = 100,
        IReadOnlyList<int>? indices = null, Action<int, int>? progress = null, CancellationToken cancel = default,
        int shardIndex = 0, int shardCount = 1)
    {
        RequireSameClasses(model, dataset);
        var order = shardCount == 1 && indices is not null ? indices : DatasetShard.Select(dataset.Count, indices, shardIndex, shardCount);
        int k = model.ClassNames.Count;
        var confusion = new int[k, k];
        int count = 0, top5 = 0, done = 0;
        var reader = new BatchReader(dataset, model.ImageSize, model.Normalization);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // Logits() runs each member in eval mode without gradients under its lock, and restores its mode.
        foreach (var batch in reader.Read(order, batchSize, model.Members[0].Device, cancel))
        {
            using (batch)
            using (var scope = NewDisposeScope())
            {
                var logits = model.Logits(batch.Images);
                var labelsCpu = batch.Labels.cpu();
                var (predicted, inTop5) = Predictions(logits, labelsCpu);
                var labels = labelsCpu.data<long>().ToArray();
                for (int i = 0; i < labels.Length; i++)
                {
                    confusion[labels[i], predicted[i]]++;
                    if (inTop5[i]) top5++;
                }
                count += labels.Length;
            }
            done += batch.Indices.Length;
            progress?.Invoke(done, order.Count);
        }
        double seconds = clock.Elapsed.TotalSeconds;
        return Summarize(model.Name, dataset.Name, model.ClassNames, confusion, top5, reader.Skipped.Count, seconds, shardIndex, shardCount, 1);
    }

    /// <summary>A result from its confusion matrix (rows: true class) and top-5 count; accuracies are computed here.</summary>
    internal static EvaluationResult Summarize(string modelName, string datasetName, IReadOnlyList<string> classNames, int[,] confusion,
        int top5, int skipped, double seconds, int shardIndex, int shardCount, int mergedShards, IReadOnlyList<int>? shardsPresent = null)
    {
        int k = classNames.Count, count = 0, correct = 0;
        for (int r = 0; r < k; r++)
            for (int c = 0; c < k; c++) count += confusion[r, c];
        for (int c = 0; c < k; c++) correct += confusion[c, c];
        var perClass = Enumerable.Range(0, k).Select(c =>
        {
            int n = 0;
            for (int p = 0; p < k; p++) n += confusion[c, p];
            return new ClassAccuracy { ClassIndex = c, Class = classNames[c], Count = n, Correct = confusion[c, c], Accuracy = n == 0 ? double.NaN : (double)confusion[c, c] / n };
        }).ToArray();
        return new EvaluationResult
        {
            Model = modelName,
            Dataset = datasetName,
            Accuracy = count == 0 ? double.NaN : (double)correct / count,
            Top5Accuracy = count == 0 ? double.NaN : (double)top5 / count,
            Count = count,
            Top5Correct = top5,
            Skipped = skipped,
            ClassNames = classNames.ToArray(),
            PerClass = perClass,
            Confusion = confusion,
            Seconds = seconds,
            ImagesPerSecond = seconds > 0 ? count / seconds : 0,
            ShardIndex = shardIndex,
            ShardCount = shardCount,
            MergedShards = mergedShards,
            Missing = shardsPresent is null ? [] : Enumerable.Range(0, shardCount).Except(shardsPresent).ToArray(),
        };
    }

    /// <summary>Predicted class of every dataset item in order (−1 for items that could not be loaded), with the labels.</summary>
    public static (long[] Predicted, long[] Labels) Predict(ProtoPNetModel model, ImageDataset dataset, int batchSize = 100, CancellationToken cancel = default)
    {
        var predicted = Enumerable.Repeat(-1L, dataset.Count).ToArray();
        var labels = Enumerable.Range(0, dataset.Count).Select(i => (long)dataset.LabelOf(i)).ToArray();
        var reader = new BatchReader(dataset, model.ImageSize, model.Normalization);
        foreach (var batch in reader.Read(Enumerable.Range(0, dataset.Count).ToArray(), batchSize, model.Device, cancel))
        {
            using (batch)
            using (var logits = model.Logits(batch.Images))
            using (var argmax = logits.argmax(1))
            {
                var p = argmax.data<long>().ToArray();
                for (int i = 0; i < p.Length; i++) predicted[batch.Indices[i]] = p[i];
            }
        }
        return (predicted, labels);
    }

    /// <summary>Top-1 predictions and whether the true label is among the top 5 (all of them when K ≤ 5).</summary>
    internal static (long[] Predicted, bool[] InTop5) Predictions(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var predicted = logits.argmax(1).cpu().data<long>().ToArray();
        int kTop = (int)Math.Min(5, logits.shape[1]);
        var top = logits.topk(kTop, dim: 1).indexes;
        var hit = top.eq(labels.view(-1, 1)).any(1).cpu().data<bool>().ToArray();
        return (predicted, hit);
    }
}
