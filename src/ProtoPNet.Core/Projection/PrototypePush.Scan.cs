using ProtoPNet.Data;
using ProtoPNet.Model;
using TorchSharp;
using ProtoPNet.Runtime;
using static TorchSharp.torch;

namespace ProtoPNet.Projection;

// Push, part 1: the scan that finds, for every prototype, its nearest latent patch among the images of its class.
public static partial class PrototypePush
{
    private sealed class ScanResult
    {
        public required double[] Distance { get; init; }
        public required int[] Image { get; init; }
        public required int[] Row { get; init; }
        public required int[] Column { get; init; }
        public required Tensor Patch { get; init; }   // [m, D·h·w]
        public int ImageCount { get; init; }
        public int Skipped { get; init; }
        public int? ShortlistCount { get; init; }
        public bool FromKeptFeatures { get; init; }
        /// <summary>z of every scanned image, for the last-layer stage; null when not kept (shortlist, or over the size limit).</summary>
        public (Tensor Latents, Tensor Labels)? Latents { get; init; }
    }

    /// <summary>The exact scan over the images a bfloat16 pass shortlisted, with image indices mapped back to the push set.</summary>
    private static ScanResult ShortlistedScan(ProtoPNetModel model, ImageDataset dataset, int batchSize, IProgress<StageProgress>? progress,
        CancellationToken cancel)
    {
        var (images, read, skipped) = CandidateShortlist.Find(model, dataset, batchSize, progress, cancel);
        var scan = Scan(model, new SubsetDataset(dataset, images, "shortlist"), batchSize, keepLatents: false, progress, cancel);
        return new ScanResult
        {
            Distance = scan.Distance,
            Image = scan.Image.Select(i => i < 0 ? -1 : images[i]).ToArray(),
            Row = scan.Row,
            Column = scan.Column,
            Patch = scan.Patch,
            ImageCount = read,
            Skipped = skipped,
            ShortlistCount = images.Length,
        };
    }

    /// <summary>One pass over the push set: per prototype, the nearest own-class patch (first one on ties). With
    /// <paramref name="keepLatents"/>, also every image's z (up to <see cref="LatentCache.MaxBytes"/>). With
    /// <paramref name="features"/> (the backbone's output over this dataset, matching the backbone), z comes from them
    /// through the add-on alone, the same z the images give.</summary>
    private static ScanResult Scan(ProtoPNetModel model, ImageDataset dataset, int batchSize, bool keepLatents, IProgress<StageProgress>? progress,
        CancellationToken cancel, FeatureCache? features = null)
    {
        var latentParts = keepLatents ? new List<Tensor>() : null;
        var labelParts = new List<Tensor>();
        long latentBytes = 0;
        var network = model.Network;
        var prototypes = network.Prototypes;
        int m = model.PrototypeCount;
        long depth = prototypes.shape[1], ph = prototypes.shape[2], pw = prototypes.shape[3];
        var device = prototypes.device;
        using var prototypeClass = torch.tensor(model.PrototypeClass.Select(c => (long)c).ToArray(), device: device);
        var bestDistance = ScalarMath.Full([m], double.PositiveInfinity, ScalarType.Float64, device);
        using var prototypes64 = prototypes.detach().to(ScalarType.Float64);
        var bestImage = Enumerable.Repeat(-1, m).ToArray();
        var bestRow = new int[m];
        var bestColumn = new int[m];
        var bestPatch = torch.zeros([m, depth * ph * pw], device: device);
        var reader = new BatchReader(dataset, model.ImageSize, model.Normalization);
        var order = Enumerable.Range(0, dataset.Count).ToArray();
        int seen = 0;
        try
        {
            foreach (var (batch, row, indices) in Slices(reader, order, features, batchSize, model.Device, cancel))
            {
                using (batch)
                using (var scope = NewDisposeScope())
                {
                    Tensor z, labels;
                    if (batch is not null) (z, labels) = (network.Latent(batch.Images), batch.Labels);   // [B, D, H, W]
                    else
                    {
                        var (cached, cachedLabels) = features!.Rows(row, indices.Length);
                        (z, labels) = (network.AddOn.forward(cached), cachedLabels);
                    }
                    if (latentParts is not null)
                    {
                        latentBytes += z.numel() * z.ElementSize;
                        if (latentBytes > LatentCache.MaxBytes) { DisposeAll(latentParts); DisposeAll(labelParts); latentParts = null; }
                        else
                        {
                            latentParts.Add(z.cpu().clone().DetachFromDisposeScope());
                            labelParts.Add(labels.cpu().clone().DetachFromDisposeScope());
                        }
                    }
                    // float64: latent vectors of an untrained or saturated network lie within ~1e-4 of each other, and the
                    // conv expansion ‖z‖² − 2z·p + ‖p‖² in float32 cannot tell such distances apart (push would not be idempotent).
                    var distances = PrototypeDistances.Compute(z.to(ScalarType.Float64), prototypes64);      // [B, m, H', W']
                    long b = distances.shape[0], hh = distances.shape[2], ww = distances.shape[3], cells = hh * ww;
                    var ownClass = labels.view(-1, 1).eq(prototypeClass.view(1, -1));        // [B, m]
                    var masked = distances.MaskedFill(ownClass.logical_not().view(b, m, 1, 1), double.PositiveInfinity);
                    var perPrototype = masked.permute(1, 0, 2, 3).reshape(m, b * cells);   // [m, B·H'·W']
                    var (minimum, argmin) = perPrototype.min(1);
                    var improved = minimum.lt(bestDistance);
                    var improvedHost = improved.cpu().data<bool>().ToArray();
                    if (improvedHost.Any(x => x))
                    {
                        // All patches of the batch as rows [B·L, D·h·w] (unfold orders them like the prototype's flattened [D, h, w]).
                        var unfolded = nn.functional.unfold(z, (ph, pw));                  // [B, D·h·w, L]
                        var rows = unfolded.permute(0, 2, 1).reshape(b * cells, depth * ph * pw);
                        var candidates = rows.index_select(0, argmin);                      // [m, D·h·w]
                        bestPatch.copy_(torch.where(improved.view(-1, 1), candidates, bestPatch));
                        bestDistance.copy_(torch.where(improved, minimum, bestDistance));
                        var argminHost = argmin.cpu().data<long>().ToArray();
                        for (int j = 0; j < m; j++)
                        {
                            if (!improvedHost[j]) continue;
                            long flat = argminHost[j];
                            int inBatch = (int)(flat / cells);
                            long cell = flat % cells;
                            bestImage[j] = indices[inBatch];
                            bestRow[j] = (int)(cell / ww);
                            bestColumn[j] = (int)(cell % ww);
                        }
                    }
                    seen += indices.Length;
                }
                progress?.Report(new StageProgress(seen, dataset.Count, features is null ? "Searching nearest patches" : "Searching nearest patches (kept backbone features)"));
            }
            var distanceHost = bestDistance.cpu().data<double>().ToArray();
            // The latents outlive any scope of the caller's: the model keeps them for the last layer (LatentCache).
            (Tensor, Tensor)? latents = latentParts is { Count: > 0 }
                ? (torch.cat(latentParts, 0).DetachFromDisposeScope(), torch.cat(labelParts, 0).DetachFromDisposeScope())
                : null;
            return new ScanResult
            {
                Latents = latents,
                Distance = distanceHost,
                Image = bestImage,
                Row = bestRow,
                Column = bestColumn,
                Patch = bestPatch,
                ImageCount = seen,
                Skipped = features?.Skipped.Count ?? reader.Skipped.Count,
                FromKeptFeatures = features is not null,
            };
        }
        catch
        {
            bestPatch.Dispose();
            throw;
        }
        finally
        {
            bestDistance.Dispose();
            if (latentParts is not null) DisposeAll(latentParts);
            DisposeAll(labelParts);
        }
    }

    /// <summary>The push set in dataset order: batches of images from the reader, or rows of the kept backbone features.</summary>
    private static IEnumerable<(Batch? Batch, int Row, int[] Indices)> Slices(BatchReader reader, int[] order, FeatureCache? features,
        int batchSize, Device device, CancellationToken cancel)
    {
        if (features is not null)
        {
            foreach (var (row, indices) in features.InDatasetOrder(batchSize))
            {
                cancel.ThrowIfCancellationRequested();
                yield return (null, row, indices);
            }
            yield break;
        }
        foreach (var batch in reader.Read(order, batchSize, device, cancel)) yield return (batch, 0, batch.Indices);
    }

    private static void DisposeAll(List<Tensor> tensors)
    {
        foreach (var t in tensors) t.Dispose();
        tensors.Clear();
    }
}
