using ProtoPNet.Data;
using ProtoPNet.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Evaluation;

public static class ModelEvaluator
{
    /// <summary>Eval-mode, no-grad pass over <paramref name="dataset"/> (optionally only <paramref name="indices"/>) of a model or an ensemble.</summary>
    public static EvaluationResult Evaluate(IClassifier model, ImageDataset dataset, int batchSize = 100,
        IReadOnlyList<int>? indices = null, IProgress<StageProgress>? progress = null, CancellationToken cancel = default,
        int shardIndex = 0, int shardCount = 1, ComputePrecision? precision = null)
    {
        if (precision is ComputePrecision setting)
        {
            // For this evaluation only: each member's backbone runs at the given precision, then as it did before.
            var before = model.Members.Select(m => m.Network.BackbonePrecision).ToArray();
            foreach (var member in model.Members) member.Network.BackbonePrecision = setting;
            try
            {
                return Evaluate(model, dataset, batchSize, indices, progress, cancel, shardIndex, shardCount);
            }
            finally
            {
                for (int i = 0; i < before.Length; i++) model.Members[i].Network.BackbonePrecision = before[i];
            }
        }
        ClassNameCheck.RequireSameClasses(model, dataset);
        var order = shardCount == 1 && indices is not null ? indices : DatasetShard.Select(dataset.Count, indices, shardIndex, shardCount);
        int k = model.ClassNames.Count;
        var confusion = new int[k, k];
        int count = 0, top5 = 0, done = 0;
        var reader = new BatchReader(dataset, model.ImageSize, model.Normalization);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var inference = InferenceScope.Begin(model);
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
            progress?.Report(new StageProgress(done, order.Count));
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
        using var inference = InferenceScope.Begin(model);
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
