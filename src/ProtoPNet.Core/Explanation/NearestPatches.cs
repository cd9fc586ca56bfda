using ProtoPNet.Data;
using ProtoPNet.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Explanation;

/// <summary>One of a prototype's nearest patches in a dataset (paper Figure 5): at most one per image.</summary>
public sealed class NearestPatch
{
    public string Model { get; init; } = "";
    public int PrototypeIndex { get; init; }
    public string PrototypeClass { get; init; } = "";
    /// <summary>1 = nearest.</summary>
    public int Rank { get; init; }
    /// <summary>The item's index in the dataset.</summary>
    public int ImageIndex { get; init; }
    public string ImagePath { get; init; } = "";
    public string ImageClass { get; init; } = "";
    public double Distance { get; init; }
    public double Similarity { get; init; }
    public int LatentRow { get; init; }
    public int LatentColumn { get; init; }
    /// <summary>
    /// The patch's box in that image's own pixels, by <see cref="BoxMethod"/>: the receptive window of the nearest latent
    /// patch, or the 95th-percentile box of the prototype's activation map (null when boxes were not computed).
    /// </summary>
    public int? BoxX { get; init; }
    public int? BoxY { get; init; }
    public int? BoxWidth { get; init; }
    public int? BoxHeight { get; init; }
    /// <summary>What BoxX… is: "ReceptiveField" or "Percentile"; empty without boxes.</summary>
    public string BoxMethod { get; init; } = "";
}

public sealed record NearestPatchResult(IReadOnlyList<NearestPatch>[] PerPrototype, IReadOnlyList<SkippedItem> Skipped);

/// <summary>
/// For each prototype, the k patches of a dataset nearest to it, one per image: an image's candidate is its nearest
/// latent patch (the min-pool), so the k nearest images by min distance give the k nearest patches. One pass over the
/// data, keeping k candidates per prototype; boxes are computed afterwards for the few images that made it.
/// </summary>
public static class NearestPatches
{
    private readonly record struct Candidate(double Distance, int Index, long Cell);

    public static NearestPatchResult Find(ProtoPNetModel model, ImageDataset dataset, int k, IReadOnlyList<int>? prototypes = null,
        bool boxes = true, int batchSize = 64, IProgress<StageProgress>? progress = null, CancellationToken cancel = default,
        BoxMethod boxMethod = BoxMethod.ReceptiveField)
    {
        if (k < 1) throw new ProtoPNetException("InvalidK", ErrorKind.InvalidArgument, "K must be at least 1.", k);
        var selected = (prototypes ?? Enumerable.Range(0, model.PrototypeCount).ToList()).ToArray();
        foreach (int j in selected)
            if (j < 0 || j >= model.PrototypeCount)
                throw new ProtoPNetException("PrototypeNotFound", ErrorKind.ObjectNotFound,
                    $"Prototype {j} does not exist; the model has {model.PrototypeCount} (0..{model.PrototypeCount - 1}).", j);
        using var inference = InferenceScope.Begin(model);
        var best = selected.Select(_ => new List<Candidate>(k + 1)).ToArray();
        var reader = new BatchReader(dataset, model.ImageSize, model.Normalization);
        var order = Enumerable.Range(0, dataset.Count).ToArray();
        int done = 0;
        foreach (var batch in reader.Read(order, batchSize, null, cancel))
        {
            using (batch)
            using (var scope = NewDisposeScope())
            {
                var (distances, cells) = MinDistances(model, batch.Images);
                int m = model.PrototypeCount;
                for (int b = 0; b < batch.Indices.Length; b++)
                    for (int s = 0; s < selected.Length; s++)
                    {
                        int j = selected[s];
                        Offer(best[s], new Candidate(distances[b * m + j], batch.Indices[b], cells[b * m + j]), k);
                    }
            }
            done += batch.Indices.Length;
            progress?.Report(new StageProgress(done, dataset.Count));
        }

        var boxesByPair = boxes ? Boxes(model, dataset, selected, best, boxMethod, cancel) : null;
        var result = new IReadOnlyList<NearestPatch>[selected.Length];
        int width = model.FeatureMapSize;
        for (int s = 0; s < selected.Length; s++)
        {
            int j = selected[s];
            result[s] = best[s].Select((c, r) =>
            {
                PixelBox? box = boxesByPair is not null && boxesByPair.TryGetValue((j, c.Index), out var found) ? found : null;
                return new NearestPatch
                {
                    Model = model.Name,
                    PrototypeIndex = j,
                    PrototypeClass = model.ClassNames[model.PrototypeClass[j]],
                    Rank = r + 1,
                    ImageIndex = c.Index,
                    ImagePath = dataset.SourceOf(c.Index),
                    ImageClass = dataset.ClassNames[dataset.LabelOf(c.Index)],
                    Distance = c.Distance,
                    Similarity = model.Network.SimilarityKind == SimilarityKind.Log ? Math.Log((c.Distance + 1) / (c.Distance + model.Network.Epsilon)) : -c.Distance,
                    LatentRow = (int)(c.Cell / width),
                    LatentColumn = (int)(c.Cell % width),
                    BoxX = box?.X, BoxY = box?.Y, BoxWidth = box?.Width, BoxHeight = box?.Height,
                    BoxMethod = box is null ? "" : boxMethod.ToString(),
                };
            }).ToList();
        }
        return new NearestPatchResult(result, reader.Skipped);
    }

    /// <summary>Keeps the k smallest by (distance, index): a sorted insertion, k is small.</summary>
    private static void Offer(List<Candidate> list, Candidate c, int k)
    {
        if (list.Count == k && !Before(c, list[^1])) return;
        int at = list.Count;
        while (at > 0 && Before(c, list[at - 1])) at--;
        list.Insert(at, c);
        if (list.Count > k) list.RemoveAt(k);
    }

    private static bool Before(Candidate a, Candidate b) => a.Distance < b.Distance || (a.Distance == b.Distance && a.Index < b.Index);

    /// <summary>Min distances [B·m] and the flat latent cell of each minimum, for normalized images.</summary>
    private static (float[] Distances, long[] Cells) MinDistances(ProtoPNetModel model, Tensor images) => model.Infer(network =>
    {
        using var output = network.forward(images.to(model.Device));
        return (output.MinDistances.cpu().data<float>().ToArray(), output.DistanceMaps.flatten(2).argmin(2).cpu().data<long>().ToArray());
    });

    /// <summary>Boxes, in original pixels, for every (prototype, image) pair that was kept: receptive windows need only each image's geometry, percentile boxes a forward pass.</summary>
    private static Dictionary<(int, int), PixelBox> Boxes(ProtoPNetModel model, ImageDataset dataset, int[] selected, List<Candidate>[] best,
        BoxMethod boxMethod, CancellationToken cancel)
    {
        var byImage = new SortedDictionary<int, List<(int J, long Cell)>>();
        for (int s = 0; s < selected.Length; s++)
            foreach (var c in best[s])
            {
                if (!byImage.TryGetValue(c.Index, out var list)) byImage[c.Index] = list = new List<(int, long)>();
                list.Add((selected[s], c.Cell));
            }
        var result = new Dictionary<(int, int), PixelBox>();
        int size = model.ImageSize, width = model.FeatureMapSize;
        foreach (var chunk in byImage.Chunk(32))
        {
            cancel.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var loaded = chunk.Select(e => dataset.Load(e.Key, size)).ToArray();
            try
            {
                var pairs = chunk.SelectMany((e, b) => e.Value.Select(v => (B: b, v.J, v.Cell, Index: e.Key))).ToArray();
                if (boxMethod == BoxMethod.ReceptiveField)
                {
                    foreach (var p in pairs)
                        result[(p.J, p.Index)] = ImageRegion.ReceptiveWindow(model, (int)(p.Cell / width), (int)(p.Cell % width)).ToOriginal(loaded[p.B].Geometry);
                    continue;
                }
                var input = Normalize.Apply(torch.stack(loaded.Select(l => l.Pixels)), model.Normalization);
                var maps = model.Infer(network => network.forward(input.to(model.Device)).DistanceMaps);
                long m = maps.shape[1];
                var flat = torch.tensor(pairs.Select(p => p.B * m + p.J).ToArray(), device: maps.device);
                var activations = ImageRegion.Activations(maps.flatten(0, 1).index_select(0, flat), model.Network);
                var boxes = ImageRegion.PercentileBoxes(activations, size, out _);
                for (int i = 0; i < pairs.Length; i++)
                    result[(pairs[i].J, pairs[i].Index)] = boxes[i].ToOriginal(loaded[pairs[i].B].Geometry);
            }
            finally
            {
                foreach (var l in loaded) l.Dispose();
            }
        }
        return result;
    }
}
