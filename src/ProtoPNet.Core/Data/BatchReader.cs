using ProtoPNet.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Data;

/// <summary>
/// Turns dataset items into normalized batches, in a given order. Items that fail to load are skipped
/// and reported through <see cref="Skipped"/>; a batch may therefore be smaller than requested.
/// </summary>
public sealed class BatchReader
{
    private readonly ImageDataset dataset;
    private readonly int imageSize;
    private readonly ImageNormalization normalization;
    private readonly List<SkippedItem> skipped = new();

    public BatchReader(ImageDataset dataset, int imageSize, ImageNormalization normalization)
    {
        this.dataset = dataset;
        this.imageSize = imageSize;
        this.normalization = normalization;
    }

    public IReadOnlyList<SkippedItem> Skipped => skipped;

    /// <summary>Batches over <paramref name="order"/> (dataset indices). The caller disposes each batch.</summary>
    public IEnumerable<Batch> Read(IReadOnlyList<int> order, int batchSize, torch.Device? device = null, CancellationToken cancel = default)
    {
        for (int start = 0; start < order.Count; start += batchSize)
        {
            cancel.ThrowIfCancellationRequested();
            int end = Math.Min(order.Count, start + batchSize);
            var images = new List<Tensor>(end - start);
            var indices = new List<int>(end - start);
            for (int k = start; k < end; k++)
            {
                int index = order[k];
                try
                {
                    var loaded = dataset.Load(index, imageSize);
                    images.Add(loaded.Pixels);
                    indices.Add(index);
                }
                catch (ProtoPNetException e)
                {
                    skipped.Add(new SkippedItem(index, dataset.SourceOf(index), e));
                }
            }
            if (images.Count == 0) continue;
            Tensor stacked;
            using (var raw = torch.stack(images))
            {
                foreach (var t in images) t.Dispose();
                stacked = Normalize.Apply(raw, normalization);
            }
            var labels = torch.tensor(indices.Select(i => (long)dataset.LabelOf(i)).ToArray());
            if (device is not null && device.type != DeviceType.CPU)
            {
                var moved = new Batch(stacked.to(device), labels.to(device), indices.ToArray());
                stacked.Dispose();
                labels.Dispose();
                yield return moved;
            }
            else yield return new Batch(stacked, labels, indices.ToArray());
        }
    }
}
