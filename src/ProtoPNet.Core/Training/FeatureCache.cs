using ProtoPNet.Data;
using ProtoPNet.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Training;

/// <summary>
/// The frozen backbone's output for every training image, computed once (eval mode, no grad) and reused by every
/// epoch in which the backbone does not train: those epochs then cost only the add-on, prototype and last layers.
/// Valid because datasets load deterministically (no online augmentation) and the frozen backbone's BatchNorm is in eval mode.
/// </summary>
internal sealed class FeatureCache : IDisposable
{
    private readonly Tensor features;   // [rows, C, h, w]
    private readonly Tensor labels;     // [rows] int64
    private readonly int[] rowOf;       // dataset index → row, −1 when the item could not be loaded

    private FeatureCache(Tensor features, Tensor labels, int[] rowOf)
    {
        this.features = features;
        this.labels = labels;
        this.rowOf = rowOf;
    }

    public bool Contains(int index) => rowOf[index] >= 0;

    public static FeatureCache? TryBuild(ProtoPNetNetwork network, BatchReader reader, ImageDataset dataset, TrainingOptions options,
        int imageSize, Device device, IProgress<StageProgress>? progress, CancellationToken cancel)
    {
        var backbone = network.Backbone;
        long channels = backbone.OutChannels;
        long side = backbone.FeatureMapSize(imageSize);
        long bytes = (long)dataset.Count * channels * side * side * sizeof(float);
        if (bytes > options.FeatureCacheBytes) return null;

        var store = torch.empty([dataset.Count, channels, side, side], device: device);
        var labelStore = torch.empty([dataset.Count], ScalarType.Int64, device: device);
        var rowOf = Enumerable.Repeat(-1, dataset.Count).ToArray();
        int row = 0;
        var order = Enumerable.Range(0, dataset.Count).ToArray();
        bool backboneWasTraining = backbone.training;
        backbone.eval();
        try
        {
            using var _ = torch.no_grad();
            using var inference = InferenceScope.Begin(network);
            foreach (var batch in reader.Read(order, options.EvaluationBatchSize, device, cancel))
            {
                using (batch)
                using (var scope = NewDisposeScope())
                {
                    var output = network.BackboneFeatures(batch.Images);
                    int n = batch.Indices.Length;
                    store.narrow(0, row, n).copy_(output);
                    labelStore.narrow(0, row, n).copy_(batch.Labels);
                    foreach (int index in batch.Indices) rowOf[index] = row++;
                }
                progress?.Report(new StageProgress(row, dataset.Count, "Computing frozen backbone features"));
            }
        }
        catch
        {
            store.Dispose();
            labelStore.Dispose();
            throw;
        }
        finally
        {
            if (backboneWasTraining) backbone.train();
        }
        return new FeatureCache(store, labelStore, rowOf);
    }

    /// <summary>The cached features and labels of the given dataset indices (all contained).</summary>
    public (Tensor Features, Tensor Labels) Gather(int[] indices)
    {
        var rows = torch.tensor(indices.Select(i => (long)rowOf[i]).ToArray(), device: features.device);
        var result = (features.index_select(0, rows), labels.index_select(0, rows));
        rows.Dispose();
        return result;
    }

    public void Dispose()
    {
        features.Dispose();
        labels.Dispose();
    }
}
