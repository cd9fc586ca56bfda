using ProtoPNet.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Model;

/// <summary>
/// The frozen backbone's output for every loadable image of one dataset, computed once (eval mode, no grad, inside an
/// inference scope). Training reuses it in every epoch in which the backbone does not train: those epochs then cost
/// only the add-on, prototype and last layers. When a training run ends with the backbone still frozen, the model
/// keeps it (<see cref="ProtoPNetModel.KeptFeatures"/>): push over the same dataset, and the frozen-backbone epochs of
/// a later run, start from it instead of the images (docs/performance.md, "Feature cache"). Valid while the dataset
/// is the same object — loaded deterministically, without online augmentation — and the backbone holds the same
/// weights and BatchNorm statistics (a fingerprint of their bytes) at the same precision.
/// </summary>
internal sealed class FeatureCache : IDisposable
{
    private readonly Tensor features;   // [rows, C, h, w], rows in dataset order
    private readonly Tensor labels;     // [rows] int64
    private readonly int[] rowOf;       // dataset index → row, −1 when the item could not be loaded
    private readonly int[] indexOf;     // row → dataset index, in the order the reader delivered them (dataset order)
    private readonly byte[] fingerprint;
    private readonly ComputePrecision precision;

    private FeatureCache(ImageDataset dataset, Tensor features, Tensor labels, int[] rowOf, int[] indexOf, IReadOnlyList<SkippedItem> skipped,
        byte[] fingerprint, ComputePrecision precision)
    {
        Dataset = dataset;
        this.features = features;
        this.labels = labels;
        this.rowOf = rowOf;
        this.indexOf = indexOf;
        Skipped = skipped;
        this.fingerprint = fingerprint;
        this.precision = precision;
    }

    public ImageDataset Dataset { get; }

    /// <summary>The images of the dataset that could not be loaded when the cache was built (a run that reuses the
    /// cache reads no image, so it reports these).</summary>
    public IReadOnlyList<SkippedItem> Skipped { get; }

    /// <summary>Bytes the cache holds (a row per dataset item).</summary>
    public long Bytes => features.numel() * features.ElementSize;

    public bool Contains(int index) => rowOf[index] >= 0;

    /// <summary>Whether these are <paramref name="network"/>'s backbone features of <paramref name="dataset"/> as it computes them now.</summary>
    public bool Matches(ProtoPNetNetwork network, ImageDataset dataset) =>
        ReferenceEquals(dataset, Dataset) && network.BackbonePrecision == precision &&
        Fingerprint(network).AsSpan().SequenceEqual(fingerprint);

    private static byte[] Fingerprint(ProtoPNetNetwork network) => StateFingerprint.Of(("features.", network.Backbone));

    /// <summary>The cache, or null when it would exceed <paramref name="maxBytes"/>.</summary>
    public static FeatureCache? TryBuild(ProtoPNetNetwork network, BatchReader reader, ImageDataset dataset, int batchSize, long maxBytes,
        int imageSize, Device device, IProgress<StageProgress>? progress, CancellationToken cancel)
    {
        var backbone = network.Backbone;
        long channels = backbone.OutChannels;
        long side = backbone.FeatureMapSize(imageSize);
        long bytes = (long)dataset.Count * channels * side * side * sizeof(float);
        if (bytes > maxBytes) return null;

        // Detached from any dispose scope the caller has open: the cache may outlive the training run (the model keeps it).
        var store = torch.empty([dataset.Count, channels, side, side], device: device).DetachFromDisposeScope();
        var labelStore = torch.empty([dataset.Count], ScalarType.Int64, device: device).DetachFromDisposeScope();
        var rowOf = Enumerable.Repeat(-1, dataset.Count).ToArray();
        var indexOf = new List<int>(dataset.Count);
        int skippedBefore = reader.Skipped.Count;
        int row = 0;
        var order = Enumerable.Range(0, dataset.Count).ToArray();
        bool backboneWasTraining = backbone.training;
        backbone.eval();
        try
        {
            using var _ = torch.no_grad();
            using var inference = InferenceScope.Begin(network);
            foreach (var batch in reader.Read(order, batchSize, device, cancel))
            {
                using (batch)
                using (var scope = NewDisposeScope())
                {
                    var output = network.BackboneFeatures(batch.Images);
                    int n = batch.Indices.Length;
                    store.narrow(0, row, n).copy_(output);
                    labelStore.narrow(0, row, n).copy_(batch.Labels);
                    foreach (int index in batch.Indices)
                    {
                        indexOf.Add(index);
                        rowOf[index] = row++;
                    }
                }
                progress?.Report(new StageProgress(row, dataset.Count, "Computing frozen backbone features"));
            }
            var skipped = reader.Skipped.Skip(skippedBefore).ToArray();
            return new FeatureCache(dataset, store, labelStore, rowOf, indexOf.ToArray(), skipped, Fingerprint(network), network.BackbonePrecision);
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
    }

    /// <summary>The cached features and labels of the given dataset indices (all contained).</summary>
    public (Tensor Features, Tensor Labels) Gather(int[] indices)
    {
        var rows = torch.tensor(indices.Select(i => (long)rowOf[i]).ToArray(), device: features.device);
        var result = (features.index_select(0, rows), labels.index_select(0, rows));
        rows.Dispose();
        return result;
    }

    /// <summary>Rows of the loadable images in dataset order, <paramref name="batchSize"/> at a time: (first row, their dataset indices).</summary>
    public IEnumerable<(int Row, int[] Indices)> InDatasetOrder(int batchSize)
    {
        for (int start = 0; start < indexOf.Length; start += batchSize)
            yield return (start, indexOf.AsSpan(start, Math.Min(batchSize, indexOf.Length - start)).ToArray());
    }

    /// <summary>Views of <paramref name="count"/> rows from <paramref name="row"/> (do not modify them).</summary>
    public (Tensor Features, Tensor Labels) Rows(int row, int count) => (features.narrow(0, row, count), labels.narrow(0, row, count));

    public void Dispose()
    {
        features.Dispose();
        labels.Dispose();
    }
}
