using System.Diagnostics;
using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Projection;

/// <summary>Where one prototype went in a push.</summary>
public sealed class PrototypeMove
{
    public int Index { get; init; }
    public string Class { get; init; } = "";
    /// <summary>False when the push set has no image of the prototype's class: the prototype was left unchanged.</summary>
    public bool Moved { get; init; }
    /// <summary>Squared L2 distance from the prototype before push to the patch it was projected onto.</summary>
    public double Distance { get; init; }
    public string SourceImage { get; init; } = "";
    public int SourceIndex { get; init; } = -1;
    public int LatentRow { get; init; }
    public int LatentColumn { get; init; }
    public int BoxX { get; init; }
    public int BoxY { get; init; }
    public int BoxWidth { get; init; }
    public int BoxHeight { get; init; }
}

/// <summary>
/// The outcome of a push, with the paper's Theorem 2.1 made visible: how far each prototype moved and, given a
/// comparison dataset, how many of its images changed their prediction across the push.
/// </summary>
public sealed class PushResult
{
    public string Model { get; init; } = "";
    public string Dataset { get; init; } = "";
    public int PrototypeCount { get; init; }
    public int Pushed { get; init; }
    /// <summary>Prototypes that found no candidate (their class is absent from the push set) and were left unchanged.</summary>
    public IReadOnlyList<int> Unchanged { get; init; } = [];
    public double MeanDistance { get; init; }
    public double MedianDistance { get; init; }
    public double MaxDistance { get; init; }
    public IReadOnlyList<PrototypeMove> Prototypes { get; init; } = [];
    public int ImageCount { get; init; }
    public int Skipped { get; init; }
    public int? ComparisonCount { get; init; }
    public int? PredictionsChanged { get; init; }
    public double? AccuracyBefore { get; init; }
    public double? AccuracyAfter { get; init; }
    public PushSearch Search { get; init; }
    /// <summary>With <see cref="PushSearch.Shortlist"/>: how many images the exact search ran over.</summary>
    public int? ShortlistCount { get; init; }
    public string? OutputDirectory { get; init; }
    public double Seconds { get; init; }
    public double RenderSeconds { get; init; }
    public double SecondsPer1000Images => ImageCount == 0 ? 0 : Seconds * 1000.0 / ImageCount;
}

public sealed record PushOptions
{
    /// <summary>The authors' push batch size.</summary>
    public int BatchSize { get; init; } = 75;
    /// <summary>When set, each prototype's source image with its box, the crop and the self-activation overlay are written here.</summary>
    public string? OutputDirectory { get; init; }
    /// <summary>Images whose predictions are compared before and after the push.</summary>
    public ImageDataset? ComparisonDataset { get; init; }
    /// <summary>Exact (default), or a bfloat16 shortlist followed by the exact search over the shortlisted images.</summary>
    public PushSearch Search { get; init; } = PushSearch.Exact;
}

/// <summary>
/// Stage 2 (paper §2.2): p_j ← the latent patch nearest to p_j among all patches of all push-set images of p_j's class.
/// Eval mode, no grad, one pass over the data in batches; per prototype only the running best (distance, image,
/// latent position, patch vector) is kept, so memory is bounded by the batch, not the dataset.
/// </summary>
public static class PrototypePush
{
    public static PushResult Push(ProtoPNetModel model, ImageDataset dataset, PushOptions? options = null,
        Action<int, int, string>? progress = null, Action<string>? warning = null, CancellationToken cancel = default)
    {
        options ??= new PushOptions();
        ModelEvaluator.RequireSameClasses(model, dataset);
        if (options.ComparisonDataset is not null) ModelEvaluator.RequireSameClasses(model, options.ComparisonDataset);
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
                var clock = Stopwatch.StartNew();
                long[]? before = options.ComparisonDataset is null ? null
                    : ModelEvaluator.Predict(model, options.ComparisonDataset, 100, cancel).Predicted;

                var scan = options.Search == PushSearch.Shortlist
                    ? ShortlistedScan(model, dataset, options.BatchSize, progress, cancel)
                    : Scan(model, dataset, options.BatchSize, progress, cancel);
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
                    Pushed = m - unchanged.Length,
                    Unchanged = unchanged,
                    MeanDistance = distances.Length == 0 ? double.NaN : distances.Average(),
                    MedianDistance = distances.Length == 0 ? double.NaN : distances[distances.Length / 2],
                    MaxDistance = distances.Length == 0 ? double.NaN : distances[^1],
                    Prototypes = moves,
                    ImageCount = scan.ImageCount,
                    Skipped = scan.Skipped,
                    Search = options.Search,
                    ShortlistCount = scan.ShortlistCount,
                    ComparisonCount = comparisonCount,
                    PredictionsChanged = changed,
                    AccuracyBefore = accBefore,
                    AccuracyAfter = accAfter,
                    OutputDirectory = options.OutputDirectory,
                    Seconds = clock.Elapsed.TotalSeconds,
                    RenderSeconds = renderSeconds,
                };
                model.History.Add(new HistoryEntry
                {
                    Stage = "Push",
                    Values = ProtoPNetTrainer.Finite(new Dictionary<string, double>
                    {
                        ["Pushed"] = result.Pushed,
                        ["MeanDistance"] = result.MeanDistance,
                        ["MaxDistance"] = result.MaxDistance,
                        ["Images"] = result.ImageCount,
                    }),
                    Note = dataset.Name,
                });
                return result;
            }
            finally
            {
                if (wasTraining) network.train();
            }
        }
    }

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
    }

    /// <summary>The exact scan over the images a bfloat16 pass shortlisted, with image indices mapped back to the push set.</summary>
    private static ScanResult ShortlistedScan(ProtoPNetModel model, ImageDataset dataset, int batchSize, Action<int, int, string>? progress,
        CancellationToken cancel)
    {
        var (images, read, skipped) = CandidateShortlist.Find(model, dataset, batchSize, progress, cancel);
        var scan = Scan(model, new SubsetDataset(dataset, images, "shortlist"), batchSize, progress, cancel);
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

    /// <summary>One pass over the push set: per prototype, the nearest own-class patch (first one on ties).</summary>
    private static ScanResult Scan(ProtoPNetModel model, ImageDataset dataset, int batchSize, Action<int, int, string>? progress, CancellationToken cancel)
    {
        var network = model.Network;
        var prototypes = network.Prototypes;
        int m = model.PrototypeCount;
        long depth = prototypes.shape[1], ph = prototypes.shape[2], pw = prototypes.shape[3];
        var device = prototypes.device;
        using var prototypeClass = torch.tensor(model.PrototypeClass.Select(c => (long)c).ToArray(), device: device);
        var bestDistance = torch.full([m], double.PositiveInfinity, dtype: ScalarType.Float64, device: device);
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
            foreach (var batch in reader.Read(order, batchSize, model.Device, cancel))
            {
                using (batch)
                using (var scope = NewDisposeScope())
                {
                    var z = network.Latent(batch.Images);                                  // [B, D, H, W]
                    // float64: latent vectors of an untrained or saturated network lie within ~1e-4 of each other, and the
                    // conv expansion ‖z‖² − 2z·p + ‖p‖² in float32 cannot tell such distances apart (push would not be idempotent).
                    var distances = PrototypeDistances.Compute(z.to(ScalarType.Float64), prototypes64);      // [B, m, H', W']
                    long b = distances.shape[0], hh = distances.shape[2], ww = distances.shape[3], cells = hh * ww;
                    var ownClass = batch.Labels.view(-1, 1).eq(prototypeClass.view(1, -1));  // [B, m]
                    var masked = distances.masked_fill(ownClass.logical_not().view(b, m, 1, 1), double.PositiveInfinity);
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
                            bestImage[j] = batch.Indices[inBatch];
                            bestRow[j] = (int)(cell / ww);
                            bestColumn[j] = (int)(cell % ww);
                        }
                    }
                    seen += batch.Indices.Length;
                }
                progress?.Invoke(seen, dataset.Count, "Searching nearest patches");
            }
            var distanceHost = bestDistance.cpu().data<double>().ToArray();
            return new ScanResult
            {
                Distance = distanceHost,
                Image = bestImage,
                Row = bestRow,
                Column = bestColumn,
                Patch = bestPatch,
                ImageCount = seen,
                Skipped = reader.Skipped.Count,
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
        }
    }

    /// <summary>
    /// For each pushed prototype: its self-activation map on its source image (with the pushed value), the
    /// 95th-percentile box mapped to the image's original pixels, the provenance record and, optionally, the rendering.
    /// Each distinct source image is loaded once more, and they go through the network in batches.
    /// </summary>
    private static PrototypeMove[] Locate(ProtoPNetModel model, ImageDataset dataset, ScanResult scan, string? outputDirectory,
        ref double renderSeconds, Action<int, int, string>? progress, CancellationToken cancel)
    {
        int m = model.PrototypeCount;
        var network = model.Network;
        var moves = new PrototypeMove[m];
        var bySource = Enumerable.Range(0, m).Where(j => scan.Image[j] >= 0).GroupBy(j => scan.Image[j]).ToArray();
        int done = 0;
        var renderClock = new Stopwatch();
        if (outputDirectory is not null) Directory.CreateDirectory(outputDirectory);
        // Source images go through the network in batches (one forward per batch, not per image).
        const int chunkSize = 32;
        for (int start = 0; start < bySource.Length; start += chunkSize)
        {
            cancel.ThrowIfCancellationRequested();
            var chunk = bySource.AsSpan(start, Math.Min(chunkSize, bySource.Length - start)).ToArray();
            var loadedImages = new List<LoadedImage>(chunk.Length);
            try
            {
                foreach (var g in chunk) loadedImages.Add(dataset.Load(g.Key, model.ImageSize));
                using var chunkScope = NewDisposeScope();
                var stacked = torch.stack(loadedImages.Select(l => l.Pixels));
                var latents = network.Latent(Normalize.Apply(stacked, model.Normalization).to(model.Device));   // [c, D, H, W]
                var pictures = outputDirectory is null ? null : new List<PrototypePicture>();
                for (int c = 0; c < chunk.Length; c++)
                    LocateInImage(model, dataset, scan, chunk[c], loadedImages[c], latents[c].unsqueeze(0), moves, pictures);
                if (pictures is { Count: > 0 })
                {
                    renderClock.Start();
                    PrototypeRenderer.Render(outputDirectory!, pictures, cancel);
                    renderClock.Stop();
                }
            }
            finally
            {
                foreach (var l in loadedImages) l.Dispose();
            }
            done += chunk.Sum(g => g.Count());
            progress?.Invoke(done, m, "Recording provenance");
        }
        for (int j = 0; j < m; j++)
            moves[j] ??= new PrototypeMove { Index = j, Class = model.ClassNames[model.PrototypeClass[j]], Moved = false, Distance = double.NaN };
        renderSeconds = renderClock.Elapsed.TotalSeconds;
        return moves;
    }

    /// <summary>Provenance of the prototypes pushed onto one source image, from its latent [1, D, H, W]; with
    /// <paramref name="pictures"/>, also what their pictures are made of.</summary>
    private static void LocateInImage(ProtoPNetModel model, ImageDataset dataset, ScanResult scan, IGrouping<int, int> group,
        LoadedImage loaded, Tensor z, PrototypeMove[] moves, List<PrototypePicture>? pictures)
    {
        var network = model.Network;
        int index = group.Key;
        using var scope = NewDisposeScope();
        var ids = torch.tensor(group.Select(j => (long)j).ToArray(), device: z.device);
        var distances = PrototypeDistances.Compute(z, network.Prototypes.index_select(0, ids))[0];   // [g, H', W']
        var activation = network.Similarities(distances);
        int slot = 0;
        foreach (int j in group)
        {
            var map = activation[slot++];
            using var upsampled = ImageRegion.Upsample(map, model.ImageSize);
            var box = ImageRegion.PercentileBox(upsampled);
            var (x, y, w, h) = loaded.Geometry.ToOriginal(box.X, box.Y, box.Width, box.Height);
            string source = dataset.SourceOf(index);
            var window = ImageRegion.ReceptiveWindow(model, scan.Row[j], scan.Column[j]).ToOriginal(loaded.Geometry);
            var provenance = new PrototypeProvenance
            {
                SourceImage = source,
                SourceIndex = index,
                LatentRow = scan.Row[j],
                LatentColumn = scan.Column[j],
                BoxX = x,
                BoxY = y,
                BoxWidth = w,
                BoxHeight = h,
                Distance = scan.Distance[j],
                WindowX = window.X, WindowY = window.Y, WindowWidth = window.Width, WindowHeight = window.Height,
            };
            model.SetProvenance(j, provenance);
            moves[j] = new PrototypeMove
            {
                Index = j,
                Class = model.ClassNames[model.PrototypeClass[j]],
                Moved = true,
                Distance = provenance.Distance,
                SourceImage = provenance.SourceImage,
                SourceIndex = provenance.SourceIndex,
                LatentRow = provenance.LatentRow,
                LatentColumn = provenance.LatentColumn,
                BoxX = provenance.BoxX,
                BoxY = provenance.BoxY,
                BoxWidth = provenance.BoxWidth,
                BoxHeight = provenance.BoxHeight,
            };
            pictures?.Add(PrototypePicture.Capture(j, loaded.Pixels, box, upsampled));
        }
    }
}
