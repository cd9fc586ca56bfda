using System.Threading.Channels;
using ProtoPNet.Model;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Data;

/// <summary>
/// Turns dataset items into normalized batches, in a given order. Items that fail to load are skipped
/// and reported through <see cref="Skipped"/>; a batch may therefore be smaller than requested.
/// </summary>
/// <remarks>
/// Data sets that hold their pixels in memory (<see cref="IInMemoryDataset"/>: IDX, tensors) give whole batches at once.
/// Files are decoded on a background task that keeps up to <see cref="PrefetchBatches"/> batches ready while the caller
/// trains on the current one; <see cref="FileImageDataset"/> keeps decoded pixels when they fit its memory budget.
/// With an <see cref="Augmentation"/>, each item is transformed after decoding and resizing; item i of the n-th
/// <see cref="Read"/> call draws from a Random seeded by (<see cref="AugmentationSeed"/>, n, i), so a run is
/// reproducible whatever the threads do.
/// </remarks>
public sealed class BatchReader
{
    private readonly ImageDataset dataset;
    private readonly int imageSize;
    private readonly ImageNormalization normalization;
    private readonly List<SkippedItem> skipped = new();
    private int passes;

    public BatchReader(ImageDataset dataset, int imageSize, ImageNormalization normalization)
    {
        this.dataset = dataset;
        this.imageSize = imageSize;
        this.normalization = normalization;
    }

    public IReadOnlyList<SkippedItem> Skipped
    {
        get { lock (skipped) return skipped.ToArray(); }
    }

    /// <summary>Online augmentation applied to every item read; null (default) for none.</summary>
    public ImageAugmentation? Augmentation { get; set; }

    public int AugmentationSeed { get; set; } = 1;

    /// <summary>
    /// How many <see cref="Read"/> calls came before; the next call augments as pass <c>PassesRead + 1</c>. A trainer
    /// sets it to the epoch so that a resumed run draws the same augmentations as an uninterrupted one.
    /// </summary>
    public int PassesRead { get => Volatile.Read(ref passes); set => Volatile.Write(ref passes, value); }

    /// <summary>How many decoded batches may wait ahead of the caller; 0 decodes on the caller's thread.</summary>
    public int PrefetchBatches { get; set; } = 2;

    /// <summary>Threads decoding the items of one batch.</summary>
    public int DecodeWorkers { get; set; } = Math.Max(1, Math.Min(2, Environment.ProcessorCount - 1));

    /// <summary>Batches over <paramref name="order"/> (dataset indices). The caller disposes each batch.</summary>
    public IEnumerable<Batch> Read(IReadOnlyList<int> order, int batchSize, torch.Device? device = null, CancellationToken cancel = default)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), "batch size must be at least 1");
        int pass = Interlocked.Increment(ref passes);
        var chunks = Chunks(order, batchSize);
        if ((dataset is IInMemoryDataset { IsInMemory: true } && Augmentation is null) || PrefetchBatches <= 0)
        {
            foreach (var chunk in chunks)
            {
                cancel.ThrowIfCancellationRequested();
                var batch = MakeBatch(chunk, pass, cancel);
                if (batch is not null) yield return ToDevice(AttachToCurrentScope(batch), device);
            }
            yield break;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var channel = Channel.CreateBounded<Batch>(new BoundedChannelOptions(PrefetchBatches)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        var producer = Task.Run(async () =>
        {
            try
            {
                foreach (var chunk in chunks)
                {
                    stop.Token.ThrowIfCancellationRequested();
                    var batch = MakeBatch(chunk, pass, stop.Token);
                    if (batch is null) continue;
                    try
                    {
                        await channel.Writer.WriteAsync(batch, stop.Token).ConfigureAwait(false);
                    }
                    catch
                    {
                        batch.Dispose();
                        throw;
                    }
                }
                channel.Writer.TryComplete();
            }
            catch (Exception e)
            {
                channel.Writer.TryComplete(e);
            }
        });
        try
        {
            while (channel.Reader.WaitToReadAsync(cancel).AsTask().GetAwaiter().GetResult())
            {
                if (!channel.Reader.TryRead(out var batch)) continue;
                yield return ToDevice(AttachToCurrentScope(batch), device);
            }
        }
        finally
        {
            // The caller stopped early, was cancelled, or is done: stop decoding and free what was decoded ahead.
            stop.Cancel();
            try { producer.Wait(); } catch (AggregateException) { }
            while (channel.Reader.TryRead(out var left)) left.Dispose();
        }
    }

    /// <summary>
    /// Gives a batch's tensors (made in a scope of their own and detached from it, on whichever thread) to the caller's
    /// current dispose scope, as if they had been made here; disposing the batch as well stays harmless.
    /// </summary>
    private static Batch AttachToCurrentScope(Batch batch)
    {
        if (torch.CurrentDisposeScope is { } scope)
        {
            scope.Attach(batch.Images);
            scope.Attach(batch.Labels);
        }
        return batch;
    }

    private static IEnumerable<int[]> Chunks(IReadOnlyList<int> order, int batchSize)
    {
        for (int start = 0; start < order.Count; start += batchSize)
        {
            int end = Math.Min(order.Count, start + batchSize);
            var chunk = new int[end - start];
            for (int k = start; k < end; k++) chunk[k - start] = order[k];
            yield return chunk;
        }
    }

    private static Batch ToDevice(Batch batch, torch.Device? device)
    {
        if (device is null || device.type == DeviceType.CPU) return batch;
        var moved = new Batch(batch.Images.to(device), batch.Labels.to(device), batch.Indices);
        batch.Dispose();
        return moved;
    }

    /// <summary>A normalized CPU batch of the items of <paramref name="chunk"/> that load; null when none does.</summary>
    private Batch? MakeBatch(int[] chunk, int pass, CancellationToken cancel)
    {
        // Every tensor made here is held by this scope until its native calls return, on the decoding thread as well
        // (docs/performance.md, "Object lifetimes"); the batch's own two are detached in Finish.
        using var scope = torch.NewDisposeScope();
        if (dataset is IInMemoryDataset { IsInMemory: true } memory && Augmentation is null)
        {
            using var raw = memory.LoadBatch(chunk, imageSize);
            return Finish(raw, chunk);
        }
        int plane = imageSize * imageSize;
        var data = new float[chunk.Length * 3 * plane];
        var ok = new bool[chunk.Length];
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, DecodeWorkers), CancellationToken = cancel };
        Parallel.For(0, chunk.Length, options, k =>
        {
            int index = chunk[k];
            try
            {
                var rgb = dataset.LoadRgb(index, imageSize).Rgb;
                if (Augmentation is { } augmentation) rgb = Augment(augmentation, rgb, pass, index);
                Fill(data, k * 3 * plane, rgb, plane);
                ok[k] = true;
            }
            catch (ProtoPNetException e)
            {
                lock (skipped) skipped.Add(new SkippedItem(index, dataset.SourceOf(index), e));
            }
        });
        int kept = ok.Count(x => x);
        if (kept == 0) return null;
        if (kept < chunk.Length)
        {
            // Close the gaps left by skipped items.
            int to = 0;
            for (int k = 0; k < chunk.Length; k++)
            {
                if (!ok[k]) continue;
                if (to != k) Array.Copy(data, k * 3 * plane, data, to * 3 * plane, 3 * plane);
                to++;
            }
        }
        var indices = chunk.Where((_, k) => ok[k]).ToArray();
        using var pixels = torch.tensor(kept == chunk.Length ? data : data[..(kept * 3 * plane)], [kept, 3, imageSize, imageSize]);
        return Finish(pixels, indices);
    }

    private Batch Finish(Tensor raw, int[] indices)
    {
        var images = Normalize.Apply(raw, normalization).DetachFromDisposeScope();
        var labels = torch.tensor(indices.Select(i => (long)dataset.LabelOf(i)).ToArray()).DetachFromDisposeScope();
        return new Batch(images, labels, indices);
    }

    private byte[] Augment(ImageAugmentation augmentation, byte[] rgb, int pass, int index)
    {
        using var image = Image.LoadPixelData<Rgb24>(rgb, imageSize, imageSize);
        augmentation.Apply(image, new Random(HashCode32(AugmentationSeed, pass, index)));
        return ImageDecoder.ToBytes(image);
    }

    private static int HashCode32(int a, int b, int c)
    {
        ulong z = ((ulong)(uint)a << 32 | (uint)b) * 0x9E3779B97F4A7C15UL + (ulong)(uint)c;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)((z ^ (z >> 31)) & 0x7FFFFFFF);
    }

    private static void Fill(float[] data, int offset, byte[] rgb, int plane)
    {
        const float inv = 1f / 255f;
        for (int i = 0, j = 0; i < plane; i++, j += 3)
        {
            data[offset + i] = rgb[j] * inv;
            data[offset + plane + i] = rgb[j + 1] * inv;
            data[offset + 2 * plane + i] = rgb[j + 2] * inv;
        }
    }
}
