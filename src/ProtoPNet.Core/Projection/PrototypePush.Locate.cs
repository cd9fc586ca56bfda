using System.Diagnostics;
using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Rendering;
using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Projection;

// Push, part 2: where in its source image each prototype landed (provenance, box) and its pictures.
public static partial class PrototypePush
{
    /// <summary>
    /// For each pushed prototype: its self-activation map on its source image (with the pushed value), the
    /// 95th-percentile box mapped to the image's original pixels, the provenance record and, optionally, the rendering.
    /// Each distinct source image is loaded once more, and they go through the network in batches.
    /// </summary>
    private static PrototypeMove[] Locate(ProtoPNetModel model, ImageDataset dataset, ScanResult scan, string? outputDirectory,
        ref double renderSeconds, IProgress<StageProgress>? progress, CancellationToken cancel)
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
            progress?.Report(new StageProgress(done, m, "Recording provenance"));
        }
        for (int j = 0; j < m; j++)
            moves[j] ??= new PrototypeMove(j, model.ClassNames[model.PrototypeClass[j]], provenance: null);
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
            moves[j] = new PrototypeMove(j, model.ClassNames[model.PrototypeClass[j]], provenance);
            pictures?.Add(PrototypePicture.Capture(j, loaded.Pixels, box, upsampled));
        }
    }
}
