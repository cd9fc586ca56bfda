using System.Diagnostics;
using System.Globalization;
using ProtoPNet.Data;
using ProtoPNet.Explanation;
using ProtoPNet.Model;
using TorchSharp;
using ProtoPNet.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ProtoPNet.Interpretability;

/// <summary>How <see cref="InterpretabilityMeter.Measure"/> runs.</summary>
public sealed record InterpretabilityOptions
{
    /// <summary>Metrics to compute; null = every metric the data allows (the part metrics need part annotations).</summary>
    public IReadOnlyList<InterpretabilityMetricKind>? Metrics { get; init; }
    /// <summary>Part annotations; null = the data set's own (CUB parts), if it has any.</summary>
    public PartAnnotations? Parts { get; init; }
    public BoxMethod BoxMethod { get; init; } = BoxMethod.ReceptiveField;
    public int Seed { get; init; } = 1;
    public int BatchSize { get; init; } = 64;
    /// <summary>Deletion and insertion curves have Steps + 1 points (0 %, 1/Steps, …, 100 % of pixels changed).</summary>
    public int Steps { get; init; } = 20;
    /// <summary>Stability's noise: N(0, NoiseStd²) clipped to ±NoiseClip, in normalised input space (Huang et al.: 0.2, 0.25).</summary>
    public double NoiseStd { get; init; } = 0.2;
    public double NoiseClip { get; init; } = 0.25;
    /// <summary>A prototype is consistent when max_k f_{p,k} reaches this (Huang et al.: 0.8).</summary>
    public double ConsistencyThreshold { get; init; } = 0.8;
    /// <summary>Side of the consistency box as a share of the input side (Huang et al.: 72/224).</summary>
    public double ConsistencyBoxFraction { get; init; } = 72.0 / 224.0;
    /// <summary>Variants of an image per forward pass in deletion and insertion.</summary>
    public int CurveBatch { get; init; } = 128;
    /// <summary>Reported on the caller's thread after each batch: images done of all, with the metric as the activity.</summary>
    public IProgress<StageProgress>? Progress { get; init; }
    public CancellationToken Cancel { get; init; }
    /// <summary>Tests: replaces the deletion/insertion saliency [B, S, S] (e.g. by zeros, which rank pixels at random).</summary>
    internal Func<Tensor, Tensor>? SaliencyOverride { get; init; }
}

/// <summary>
/// Interpretability metrics of a ProtoPNet (or an ensemble) on a data set: the pointing game against part annotations,
/// Huang et al.'s (ICCV 2023) consistency and stability, and deletion and insertion AUC. Each metric is its own pass
/// over the data (eval mode, no gradients, a dispose scope per batch, so memory stays flat), timed on its own.
/// </summary>
public static class InterpretabilityMeter
{
    public const string DeletionBaseline = "NormalizedZero";
    public const string InsertionBaseline = "Blur";

    /// <summary>The metrics that <paramref name="parts"/> allows when none are asked for.</summary>
    public static IReadOnlyList<InterpretabilityMetricKind> DefaultMetrics(PartAnnotations? parts) => parts is null
        ? [InterpretabilityMetricKind.Deletion, InterpretabilityMetricKind.Insertion]
        : Enum.GetValues<InterpretabilityMetricKind>();

    public static InterpretabilityReport Measure(IClassifier classifier, ImageDataset dataset, InterpretabilityOptions? options = null)
    {
        options ??= new InterpretabilityOptions();
        ClassNameCheck.RequireSameClasses(classifier, dataset);
        if (options.Steps < 2) throw new ProtoPNetException("InvalidSteps", ErrorKind.InvalidArgument, "Steps must be at least 2.", options.Steps);
        if (options.BatchSize < 1) throw new ProtoPNetException("InvalidBatchSize", ErrorKind.InvalidArgument, "BatchSize must be at least 1.", options.BatchSize);
        using var inference = InferenceScope.Begin(classifier);
        var parts = options.Parts ?? PartAnnotations.FromDataset(dataset);
        var metrics = (options.Metrics is { Count: > 0 } m ? m : DefaultMetrics(parts)).Distinct().Order().ToArray();
        var needParts = metrics.Where(k => k is InterpretabilityMetricKind.PointingGame or InterpretabilityMetricKind.Consistency or InterpretabilityMetricKind.Stability).ToArray();
        if (needParts.Length > 0 && parts is null)
            throw new ProtoPNetException("PartsRequired", ErrorKind.InvalidArgument,
                $"{string.Join(", ", needParts)} need part annotations: data set '{dataset.Name}' has none; give a parts CSV (-PartsPath).", dataset.Name);
        var run = new Run(classifier, dataset, parts, options);
        var results = new List<InterpretabilityMetric>();
        foreach (var metric in metrics)
        {
            options.Cancel.ThrowIfCancellationRequested();
            results.Add(metric switch
            {
                InterpretabilityMetricKind.PointingGame => run.Pointing(),
                InterpretabilityMetricKind.Consistency => run.Consistency(),
                InterpretabilityMetricKind.Stability => run.Stability(),
                InterpretabilityMetricKind.Deletion => run.Curves(deletion: true),
                _ => run.Curves(deletion: false),
            });
        }
        return new InterpretabilityReport { Metrics = results, Prototypes = run.PrototypeRows(), Skipped = run.Skipped };
    }

    /// <summary>Part vectors are equal when the sum of absolute differences is 0 (not a signed sum, whose terms can cancel).</summary>
    internal static bool Same(sbyte[] a, sbyte[] b)
    {
        int difference = 0;
        for (int q = 0; q < a.Length; q++) difference += Math.Abs(a[q] - b[q]);
        return difference == 0;
    }

    /// <summary>One member's forward pass over a batch.</summary>
    internal sealed class MemberPass
    {
        public required Tensor SimilarityMaps;   // [B, m, h, w]
        public required float[] Logits, Similarities, Weights;
        public required long[] Argmin;
        public int Prototypes, MapHeight, MapWidth;
    }

    internal static MemberPass Forward(ProtoPNetModel model, Tensor input) => model.Infer(network =>
    {
        var output = network.forward(input.to(model.Device));
        var maps = output.DistanceMaps;
        return new MemberPass
        {
            SimilarityMaps = PrototypeDistances.Similarity(maps, network.SimilarityKind, network.Epsilon),
            Logits = output.Logits.cpu().data<float>().ToArray(),
            Similarities = network.Similarities(output.MinDistances).cpu().data<float>().ToArray(),
            Argmin = maps.flatten(2).argmin(2).cpu().data<long>().ToArray(),
            Weights = network.LastLayer.weight!.detach().cpu().data<float>().ToArray(),
            Prototypes = (int)maps.shape[1],
            MapHeight = (int)maps.shape[2],
            MapWidth = (int)maps.shape[3],
        };
    });

    /// <summary>
    /// For activation maps [n, h, w]: bicubic upsampling to size × size, the arg-max pixel, and a box of side
    /// <paramref name="side"/> centred on it, clipped to the image (Huang et al.'s consistency box).
    /// </summary>
    internal static PixelBox[] CentredBoxes(Tensor maps, int size, int side)
    {
        int n = (int)maps.shape[0];
        var boxes = new PixelBox[n];
        int chunk = Math.Max(1, 4_000_000 / (size * size));
        for (int start = 0; start < n; start += chunk)
        {
            int count = Math.Min(chunk, n - start);
            long[] arg;
            using (var scope = NewDisposeScope())
            {
                var up = interpolate(maps.narrow(0, start, count).to(ScalarType.Float32).unsqueeze(1), [size, size], mode: InterpolationMode.Bicubic, align_corners: false);
                arg = up.flatten(1).argmax(1).cpu().data<long>().ToArray();
            }
            for (int i = 0; i < count; i++) boxes[start + i] = CentredBox((int)(arg[i] % size), (int)(arg[i] / size), size, side);
        }
        return boxes;
    }

    internal static PixelBox CentredBox(int x, int y, int size, int side)
    {
        int x0 = x - side / 2, y0 = y - side / 2;
        int cx0 = Math.Clamp(x0, 0, size), cy0 = Math.Clamp(y0, 0, size);
        int cx1 = Math.Clamp(x0 + side, 0, size), cy1 = Math.Clamp(y0 + side, 0, size);
        return new PixelBox(cx0, cy0, cx1 - cx0, cy1 - cy0);
    }

    /// <summary>
    /// Ranks of pixels for deletion and insertion: rank[p] = position of pixel p when ordered by descending saliency;
    /// ties are broken by a seeded random order, so an all-equal saliency gives a random order.
    /// </summary>
    internal static int[] Ranks(ReadOnlySpan<float> saliency, Random random)
    {
        int n = saliency.Length;
        var keys = new ulong[n];
        var pixels = new int[n];
        for (int p = 0; p < n; p++)
        {
            // Descending saliency: flip the order-preserving bits of the float; low 32 bits: a random tie-break.
            uint bits = BitConverter.SingleToUInt32Bits(float.IsNaN(saliency[p]) ? float.NegativeInfinity : saliency[p] == 0 ? 0f : saliency[p]);
            uint ordered = (bits & 0x8000_0000u) != 0 ? ~bits : bits | 0x8000_0000u;
            keys[p] = ((ulong)~ordered << 32) | (uint)random.Next();
            pixels[p] = p;
        }
        Array.Sort(keys, pixels);
        var rank = new int[n];
        for (int r = 0; r < n; r++) rank[pixels[r]] = r;
        return rank;
    }

    /// <summary>A Gaussian blur of images [N, 3, S, S] (σ = 5·S/224, at least 1; kernel ±2σ; edges replicated), RISE's insertion start.</summary>
    internal static Tensor Blur(Tensor images)
    {
        using var scope = NewDisposeScope();
        int size = (int)images.shape[3];
        double sigma = Math.Max(1.0, 5.0 * size / 224);
        int radius = Math.Max(1, (int)Math.Ceiling(2 * sigma));
        var k = Enumerable.Range(-radius, 2 * radius + 1).Select(i => Math.Exp(-i * i / (2 * sigma * sigma))).ToArray();
        double total = k.Sum();
        var kernel = tensor(k.Select(v => (float)(v / total)).ToArray(), device: images.device);
        var horizontal = kernel.view(1, 1, 1, -1).expand(3, 1, 1, -1).contiguous();
        var vertical = kernel.view(1, 1, -1, 1).expand(3, 1, -1, 1).contiguous();
        var padded = pad(images, [radius, radius, radius, radius], PaddingModes.Replicate);
        var blurred = conv2d(conv2d(padded, horizontal, groups: 3), vertical, groups: 3);
        return blurred.MoveToOuterDisposeScope();
    }

    /// <summary>The state of one measurement: the data, per-prototype tallies, and the items that failed to load.</summary>
    private sealed class Run
    {
        private readonly IClassifier classifier;
        private readonly ImageDataset dataset;
        private readonly PartAnnotations? parts;
        private readonly InterpretabilityOptions options;
        private readonly int size;
        private readonly IReadOnlyList<ProtoPNetModel> members;
        private readonly string[] memberNames;
        private readonly int[] offsets;
        private readonly int totalPrototypes;
        private readonly Dictionary<string, int> partIndex;
        private readonly Dictionary<int, SkippedItem> skipped = new();
        // Per global prototype: consistency tallies per part, stability pairs.
        private readonly int[][] visible, inside;
        private readonly int[] images;
        private readonly int[] stablePairs, pairs;
        private bool consistencyDone, stabilityDone;
        private bool?[] sourceOnPart;
        private bool pointingDone;

        public Run(IClassifier classifier, ImageDataset dataset, PartAnnotations? parts, InterpretabilityOptions options)
        {
            this.classifier = classifier;
            this.dataset = dataset;
            this.parts = parts;
            this.options = options;
            size = classifier.ImageSize;
            members = classifier.Members;
            memberNames = classifier is ProtoPNetEnsemble e ? e.MemberNames.ToArray() : [classifier.Name];
            offsets = new int[members.Count];
            for (int m = 1; m < members.Count; m++) offsets[m] = offsets[m - 1] + members[m - 1].PrototypeCount;
            totalPrototypes = members.Sum(x => x.PrototypeCount);
            partIndex = (parts?.PartNames ?? []).Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
            int k = partIndex.Count;
            visible = Enumerable.Range(0, totalPrototypes).Select(_ => new int[k]).ToArray();
            inside = Enumerable.Range(0, totalPrototypes).Select(_ => new int[k]).ToArray();
            images = new int[totalPrototypes];
            stablePairs = new int[totalPrototypes];
            pairs = new int[totalPrototypes];
            sourceOnPart = new bool?[totalPrototypes];
        }

        public IReadOnlyList<SkippedItem> Skipped => skipped.Values.OrderBy(s => s.Index).ToArray();

        private int ConsistencySide => Math.Max(1, (int)Math.Round(options.ConsistencyBoxFraction * size));

        // ---------------------------------------------------------------- loading

        private sealed record Loaded(int[] Indices, Tensor Pixels, ImageGeometry[] Geometry) : IDisposable
        {
            public void Dispose() => Pixels.Dispose();
        }

        /// <summary>Batches of RGB pixels [B,3,S,S] in [0,1] with each image's geometry; files decode on all cores.</summary>
        private IEnumerable<Loaded> Read(string activity)
        {
            var cancel = options.Cancel;
            int n = dataset.Count;
            bool parallel = IsFileBacked(dataset);
            for (int start = 0; start < n; start += options.BatchSize)
            {
                cancel.ThrowIfCancellationRequested();
                int count = Math.Min(options.BatchSize, n - start);
                var rgb = new byte[count][];
                var geometry = new ImageGeometry[count];
                var errors = new ProtoPNetException?[count];
                void LoadOne(int i)
                {
                    try { (rgb[i], geometry[i]) = dataset.LoadRgb(start + i, size); }
                    catch (ProtoPNetException e) { errors[i] = e; }
                }
                if (parallel) Parallel.For(0, count, new ParallelOptions { CancellationToken = cancel, MaxDegreeOfParallelism = Environment.ProcessorCount }, LoadOne);
                else for (int i = 0; i < count; i++) LoadOne(i);
                var ok = new List<int>(count);
                for (int i = 0; i < count; i++)
                {
                    if (errors[i] is { } e) skipped.TryAdd(start + i, new SkippedItem(start + i, dataset.SourceOf(start + i), e));
                    else ok.Add(i);
                }
                if (ok.Count > 0)
                {
                    var plane = size * size * 3;
                    var all = new byte[ok.Count * plane];
                    for (int k = 0; k < ok.Count; k++) rgb[ok[k]].CopyTo(all, k * plane);
                    // HWC bytes → CHW floats in [0,1], as ImageDecoder.ToTensor does per image. The consumer disposes the batch.
                    Tensor pixels;
                    using (var scope = NewDisposeScope())
                        pixels = tensor(all, [ok.Count, size, size, 3]).permute(0, 3, 1, 2).to(ScalarType.Float32).DivInPlace(255f).contiguous().DetachFromDisposeScope();
                    yield return new Loaded(ok.Select(i => start + i).ToArray(), pixels, ok.Select(i => geometry[i]).ToArray());
                }
                options.Progress?.Report(new StageProgress(start + count, n, activity));
            }
        }

        private static bool IsFileBacked(ImageDataset d) => d switch
        {
            FileImageDataset => true,
            SubsetDataset s => IsFileBacked(s.Parent),
            _ => false,
        };

        private Tensor Normalized(Tensor pixels) => Normalize.Apply(pixels, classifier.Normalization);

        private static InterpretabilityMetric Timed(Stopwatch clock, int read, Func<double, double, InterpretabilityMetric> make)
        {
            double seconds = clock.Elapsed.TotalSeconds;
            return make(seconds, seconds > 0 ? read / seconds : 0);
        }

        // ---------------------------------------------------------------- pointing game

        public InterpretabilityMetric Pointing()
        {
            var clock = Stopwatch.StartNew();
            int read = 0, scored = 0, hits = 0;
            double chance = 0;
            foreach (var batch in Read("Pointing game"))
            {
                using var owned = batch;
                using var scope = NewDisposeScope();
                read += batch.Indices.Length;
                var input = Normalized(batch.Pixels);
                var passes = members.Select(m => Forward(m, input)).ToArray();
                var boxes = TopEvidenceBoxes(passes, batch.Indices.Length);
                for (int b = 0; b < batch.Indices.Length; b++)
                {
                    var imageParts = PartAnnotations.ToInput(parts!.For(batch.Indices[b]), batch.Geometry[b]);
                    if (imageParts.Length == 0) continue;
                    scored++;
                    if (PointingGame.Hits(boxes[b], imageParts)) hits++;
                    chance += PointingGame.Chance(boxes[b].Width, boxes[b].Height, imageParts, size, size);
                }
            }
            var (onPart, onPartChance, pushed, weightOnPart) = PrototypesOnParts();
            pointingDone = true;
            return Timed(clock, read, (seconds, rate) => new InterpretabilityMetric
            {
                Model = classifier.Name, Dataset = dataset.Name, Metric = nameof(InterpretabilityMetricKind.PointingGame),
                Value = scored > 0 ? (double)hits / scored : double.NaN,
                Chance = scored > 0 ? chance / scored : double.NaN,
                ChanceMeaning = "a box of the same size at a uniformly random place",
                Images = scored, Prototypes = totalPrototypes, Seconds = seconds, ImagesPerSecond = rate,
                Box = options.BoxMethod.ToString(), Parts = parts!.Source,
                PrototypesOnPart = onPart, PrototypesOnPartChance = onPartChance, PushedPrototypes = pushed,
                PrototypesOnPartWeightShare = weightOnPart,
            });
        }

        /// <summary>Per image, the box of the prototype with the largest contribution (similarity × weight) to the predicted class.</summary>
        private PixelBox[] TopEvidenceBoxes(MemberPass[] passes, int n)
        {
            int classes = classifier.ClassNames.Count;
            var top = new (int Member, int Prototype, int Row, int Column)[n];
            for (int b = 0; b < n; b++)
            {
                int predicted = 0;
                double best = double.NegativeInfinity;
                for (int c = 0; c < classes; c++)
                {
                    double logit = passes.Sum(p => (double)p.Logits[b * classes + c]);
                    if (logit > best) { best = logit; predicted = c; }
                }
                double bestContribution = double.NegativeInfinity;
                for (int m = 0; m < passes.Length; m++)
                {
                    var p = passes[m];
                    for (int j = 0; j < p.Prototypes; j++)
                    {
                        double contribution = (double)p.Similarities[b * p.Prototypes + j] * p.Weights[predicted * p.Prototypes + j];
                        if (contribution > bestContribution)
                        {
                            bestContribution = contribution;
                            long cell = p.Argmin[b * p.Prototypes + j];
                            top[b] = (m, j, (int)(cell / p.MapWidth), (int)(cell % p.MapWidth));
                        }
                    }
                }
            }
            var boxes = new PixelBox[n];
            if (options.BoxMethod == BoxMethod.ReceptiveField)
            {
                for (int b = 0; b < n; b++)
                {
                    var model = members[top[b].Member];
                    boxes[b] = ImageRegion.ReceptiveWindow(model, top[b].Row, top[b].Column);
                }
                return boxes;
            }
            for (int m = 0; m < passes.Length; m++)
            {
                var images = Enumerable.Range(0, n).Where(b => top[b].Member == m).ToArray();
                if (images.Length == 0) continue;
                using var scope = NewDisposeScope();
                var p = passes[m];
                var flat = tensor(images.Select(b => (long)b * p.Prototypes + top[b].Prototype).ToArray(), device: p.SimilarityMaps.device);
                var maps = p.SimilarityMaps.flatten(0, 1).index_select(0, flat);
                var found = ImageRegion.PercentileBoxes(maps, size, out _);
                for (int i = 0; i < images.Length; i++) boxes[images[i]] = found[i];
            }
            return boxes;
        }

        /// <summary>
        /// Share of pushed prototypes whose source box centre lies on a part of their source image (original pixels), its
        /// chance, and the share of those prototypes' positive own-class weight that the ones on a part carry.
        /// </summary>
        private (double? Share, double? Chance, int? Count, double? WeightShare) PrototypesOnParts()
        {
            int count = 0, on = 0;
            double chance = 0, weight = 0, weightOn = 0;
            for (int m = 0; m < members.Count; m++)
            {
                var own = members[m].OwnClassWeights();
                for (int j = 0; j < members[m].PrototypeCount; j++)
                {
                    var provenance = members[m].Provenance[j];
                    if (provenance is null || string.IsNullOrEmpty(provenance.SourceImage)) continue;
                    var sourceParts = parts!.ForImage(provenance.SourceImage);
                    if (sourceParts is null || sourceParts.Count == 0) continue;
                    int width, height;
                    try
                    {
                        var probe = ImageDecoder.Probe(provenance.SourceImage);
                        (width, height) = (probe.Width, probe.Height);
                    }
                    catch (ProtoPNetException) { continue; }
                    var original = InOriginal(sourceParts, width, height);
                    if (original.Length == 0) continue;
                    // The box by the same method as the images' (model files pushed before windows were recorded: skipped).
                    if (provenance.Box(options.BoxMethod) is not PixelBox box) continue;
                    bool hit = PointingGame.Hits(box, original);
                    sourceOnPart[offsets[m] + j] = hit;
                    count++;
                    weight += Math.Max(0, own[j]);
                    if (hit) { on++; weightOn += Math.Max(0, own[j]); }
                    chance += PointingGame.Chance(box.Width, box.Height, original, width, height);
                }
            }
            return count == 0 ? (null, null, 0, null) : ((double)on / count, chance / count, count, weight > 0 ? weightOn / weight : null);
        }

        /// <summary>Parts in the original image's own pixels (no crop, no resize).</summary>
        private static InputPart[] InOriginal(IReadOnlyList<PartRegion> regions, int width, int height)
        {
            var result = new List<InputPart>();
            foreach (var p in regions)
            {
                if (p.IsPoint)
                {
                    int x = (int)Math.Floor(p.X), y = (int)Math.Floor(p.Y);
                    if (x >= 0 && y >= 0 && x < width && y < height) result.Add(new InputPart(p.Part, new PixelBox(x, y, 1, 1), true));
                    continue;
                }
                int x0 = Math.Clamp((int)Math.Floor(p.X), 0, width), y0 = Math.Clamp((int)Math.Floor(p.Y), 0, height);
                int x1 = Math.Clamp((int)Math.Ceiling(p.X + p.Width), 0, width), y1 = Math.Clamp((int)Math.Ceiling(p.Y + p.Height), 0, height);
                if (x1 > x0 && y1 > y0) result.Add(new InputPart(p.Part, new PixelBox(x0, y0, x1 - x0, y1 - y0), false));
            }
            return result.ToArray();
        }

        // ---------------------------------------------------------------- consistency and stability

        /// <summary>The (image in batch, member, prototype) pairs of one batch: each image with parts, with the prototypes of its class.</summary>
        private List<(int Image, int Member, int Prototype, InputPart[] Parts)> OwnClassPairs(Loaded batch)
        {
            var list = new List<(int, int, int, InputPart[])>();
            for (int b = 0; b < batch.Indices.Length; b++)
            {
                var imageParts = PartAnnotations.ToInput(parts!.For(batch.Indices[b]), batch.Geometry[b]);
                if (imageParts.Length == 0) continue;
                int label = dataset.LabelOf(batch.Indices[b]);
                for (int m = 0; m < members.Count; m++)
                    for (int j = 0; j < members[m].PrototypeCount; j++)
                        if (members[m].PrototypeClass[j] == label) list.Add((b, m, j, imageParts));
            }
            return list;
        }

        /// <summary>Consistency boxes of the pairs, from each member's similarity maps.</summary>
        private PixelBox[] PairBoxes(MemberPass[] passes, List<(int Image, int Member, int Prototype, InputPart[] Parts)> pairList)
        {
            var boxes = new PixelBox[pairList.Count];
            for (int m = 0; m < passes.Length; m++)
            {
                var which = Enumerable.Range(0, pairList.Count).Where(i => pairList[i].Member == m).ToArray();
                if (which.Length == 0) continue;
                using var scope = NewDisposeScope();
                var p = passes[m];
                var flat = tensor(which.Select(i => (long)pairList[i].Image * p.Prototypes + pairList[i].Prototype).ToArray(), device: p.SimilarityMaps.device);
                var found = CentredBoxes(p.SimilarityMaps.flatten(0, 1).index_select(0, flat), size, ConsistencySide);
                for (int k = 0; k < which.Length; k++) boxes[which[k]] = found[k];
            }
            return boxes;
        }

        /// <summary>The part vector of a box: for each part index, -1 when not visible, else 1 when its centre is in the box, 0 when not.</summary>
        private sbyte[] PartVector(PixelBox box, InputPart[] imageParts)
        {
            var v = new sbyte[partIndex.Count];
            Array.Fill(v, (sbyte)-1);
            foreach (var p in imageParts)
            {
                int k = partIndex[p.Part];
                if (v[k] < 0) v[k] = 0;
                if (p.CentreIn(box)) v[k] = 1;
            }
            return v;
        }

        private PixelBox RandomBox(Random random) => CentredBox(random.Next(size), random.Next(size), size, ConsistencySide);

        public InterpretabilityMetric Consistency()
        {
            var clock = Stopwatch.StartNew();
            var random = new Random(options.Seed);
            int k = partIndex.Count;
            var randomInside = Enumerable.Range(0, totalPrototypes).Select(_ => new int[k]).ToArray();
            foreach (var row in visible) Array.Clear(row);
            foreach (var row in inside) Array.Clear(row);
            Array.Clear(images);
            int read = 0;
            var imagesUsed = new HashSet<int>();
            foreach (var batch in Read("Consistency"))
            {
                using var owned = batch;
                using var scope = NewDisposeScope();
                read += batch.Indices.Length;
                var pairList = OwnClassPairs(batch);
                if (pairList.Count == 0) continue;
                var input = Normalized(batch.Pixels);
                var passes = members.Select(m => Forward(m, input)).ToArray();
                var boxes = PairBoxes(passes, pairList);
                for (int i = 0; i < pairList.Count; i++)
                {
                    var (b, m, j, imageParts) = pairList[i];
                    int g = offsets[m] + j;
                    imagesUsed.Add(batch.Indices[b]);
                    images[g]++;
                    var v = PartVector(boxes[i], imageParts);
                    var r = PartVector(RandomBox(random), imageParts);
                    for (int q = 0; q < k; q++)
                    {
                        if (v[q] < 0) continue;
                        visible[g][q]++;
                        if (v[q] == 1) inside[g][q]++;
                        if (r[q] == 1) randomInside[g][q]++;
                    }
                }
            }
            consistencyDone = true;
            int evaluated = 0, consistent = 0, randomConsistent = 0;
            for (int g = 0; g < totalPrototypes; g++)
            {
                if (images[g] == 0) continue;
                evaluated++;
                if (HitRate(inside[g], visible[g]).Rate >= options.ConsistencyThreshold) consistent++;
                if (HitRate(randomInside[g], visible[g]).Rate >= options.ConsistencyThreshold) randomConsistent++;
            }
            return Timed(clock, read, (seconds, rate) => new InterpretabilityMetric
            {
                Model = classifier.Name, Dataset = dataset.Name, Metric = nameof(InterpretabilityMetricKind.Consistency),
                Value = evaluated > 0 ? 100.0 * consistent / evaluated : double.NaN,
                Chance = evaluated > 0 ? 100.0 * randomConsistent / evaluated : double.NaN,
                ChanceMeaning = "boxes centred at random pixels (seeded)",
                Images = imagesUsed.Count, Prototypes = evaluated, Seconds = seconds, ImagesPerSecond = rate,
                Box = string.Create(CultureInfo.InvariantCulture, $"{ConsistencySide} px"), Parts = parts!.Source,
            });
        }

        /// <summary>max over parts of inside/visible, and which part; NaN when no part was ever visible.</summary>
        private static (double Rate, int Part) HitRate(int[] inside, int[] visible)
        {
            double best = double.NaN;
            int part = -1;
            for (int q = 0; q < visible.Length; q++)
            {
                if (visible[q] == 0) continue;
                double f = (double)inside[q] / visible[q];
                if (double.IsNaN(best) || f > best) { best = f; part = q; }
            }
            return (best, part);
        }

        public InterpretabilityMetric Stability()
        {
            var clock = Stopwatch.StartNew();
            var random = new Random(options.Seed);
            using var generator = new torch.Generator((ulong)options.Seed);
            Array.Clear(stablePairs);
            Array.Clear(pairs);
            int read = 0, allPairs = 0, unchanged = 0, randomUnchanged = 0;
            var imagesUsed = new HashSet<int>();
            foreach (var batch in Read("Stability"))
            {
                using var owned = batch;
                using var scope = NewDisposeScope();
                read += batch.Indices.Length;
                var clean = Normalized(batch.Pixels);
                // The noise is drawn for every image in order, so it does not depend on which images have parts.
                var noise = torch.randn(clean.shape, generator: generator).MulInPlace(options.NoiseStd).ClampInPlace(-options.NoiseClip, options.NoiseClip).to(clean.device);
                var pairList = OwnClassPairs(batch);
                if (pairList.Count == 0) continue;
                var noisy = clean.Add(noise);
                var cleanBoxes = PairBoxes(members.Select(m => Forward(m, clean)).ToArray(), pairList);
                var noisyBoxes = PairBoxes(members.Select(m => Forward(m, noisy)).ToArray(), pairList);
                for (int i = 0; i < pairList.Count; i++)
                {
                    var (b, m, j, imageParts) = pairList[i];
                    int g = offsets[m] + j;
                    imagesUsed.Add(batch.Indices[b]);
                    bool same = Same(PartVector(cleanBoxes[i], imageParts), PartVector(noisyBoxes[i], imageParts));
                    bool randomSame = Same(PartVector(RandomBox(random), imageParts), PartVector(RandomBox(random), imageParts));
                    allPairs++;
                    pairs[g]++;
                    if (same) { unchanged++; stablePairs[g]++; }
                    if (randomSame) randomUnchanged++;
                }
            }
            stabilityDone = true;
            return Timed(clock, read, (seconds, rate) => new InterpretabilityMetric
            {
                Model = classifier.Name, Dataset = dataset.Name, Metric = nameof(InterpretabilityMetricKind.Stability),
                Value = allPairs > 0 ? 100.0 * unchanged / allPairs : double.NaN,
                Chance = allPairs > 0 ? 100.0 * randomUnchanged / allPairs : double.NaN,
                ChanceMeaning = "two independent boxes centred at random pixels (seeded)",
                Images = imagesUsed.Count, Prototypes = pairs.Count(p => p > 0), Seconds = seconds, ImagesPerSecond = rate,
                Box = string.Create(CultureInfo.InvariantCulture, $"{ConsistencySide} px"), Parts = parts!.Source,
            });
        }


        // ---------------------------------------------------------------- deletion and insertion

        public InterpretabilityMetric Curves(bool deletion)
        {
            var clock = Stopwatch.StartNew();
            int steps = options.Steps, pixels = size * size;
            var random = new Random(SeedMix.Combine(options.Seed, deletion ? 1 : 0));
            var sum = new double[steps + 1];
            var randomSum = new double[steps + 1];
            int read = 0, scored = 0;
            int perChunk = Math.Max(1, options.CurveBatch / (2 * (steps + 1)));
            var thresholds = Enumerable.Range(0, steps + 1).Select(k => (int)Math.Round((double)k * pixels / steps)).ToArray();
            string activity = deletion ? "Deletion" : "Insertion";
            foreach (var batch in Read(activity))
            {
                using var owned = batch;
                using var scope = NewDisposeScope();
                int n = batch.Indices.Length;
                read += n;
                var input = Normalized(batch.Pixels);
                var passes = members.Select(m => Forward(m, input)).ToArray();
                int classes = classifier.ClassNames.Count;
                var predicted = new long[n];
                for (int b = 0; b < n; b++)
                {
                    double best = double.NegativeInfinity;
                    for (int c = 0; c < classes; c++)
                    {
                        double logit = passes.Sum(p => (double)p.Logits[b * classes + c]);
                        if (logit > best) { best = logit; predicted[b] = c; }
                    }
                }
                var saliencyMaps = Saliency(passes, predicted);
                if (options.SaliencyOverride is { } replace) saliencyMaps = replace(saliencyMaps).to(ScalarType.Float32).cpu().contiguous();
                var saliency = saliencyMaps.data<float>().ToArray();
                var ranks = new int[2 * n][];
                for (int b = 0; b < n; b++)
                {
                    ranks[2 * b] = Ranks(saliency.AsSpan(b * pixels, pixels), random);
                    ranks[2 * b + 1] = Ranks(new float[pixels], random);       // all ties: a random order
                }
                // Deletion: changed pixels become the normalised zero (the data set's mean colour); insertion: changed pixels
                // come from the image onto a blurred copy of it.
                var baseline = deletion ? torch.zeros_like(input) : Blur(input);
                for (int c0 = 0; c0 < n; c0 += perChunk)
                {
                    options.Cancel.ThrowIfCancellationRequested();
                    using var chunkScope = NewDisposeScope();
                    int count = Math.Min(perChunk, n - c0);
                    // [count·2, N] ranks → masks [count·2, steps+1, 1, S, S]: pixel changed at step k when rank < threshold_k.
                    var rankTensor = tensor(Enumerable.Range(2 * c0, 2 * count).SelectMany(i => ranks[i]).ToArray(), [2 * count, pixels]).to(input.device);
                    var limit = tensor(thresholds, device: input.device).view(1, -1, 1);
                    var changed = rankTensor.unsqueeze(1).lt(limit).view(2 * count, steps + 1, 1, size, size);
                    var image = input.narrow(0, c0, count).repeat_interleave(2, 0).unsqueeze(1);          // [2c, 1, 3, S, S]
                    var other = baseline.narrow(0, c0, count).repeat_interleave(2, 0).unsqueeze(1);
                    var variants = deletion ? torch.where(changed, other, image) : torch.where(changed, image, other);
                    variants = variants.reshape(2 * count * (steps + 1), 3, size, size);
                    var probabilities = classifier.Logits(variants).softmax(1);
                    var labels = tensor(Enumerable.Range(c0, count).SelectMany(b => Enumerable.Repeat(predicted[b], 2 * (steps + 1))).ToArray()).view(-1, 1);
                    var p = probabilities.gather(1, labels).view(2 * count, steps + 1).to(ScalarType.Float64).cpu().data<double>().ToArray();
                    for (int i = 0; i < count; i++)
                        for (int k = 0; k <= steps; k++)
                        {
                            sum[k] += p[(2 * i) * (steps + 1) + k];
                            randomSum[k] += p[(2 * i + 1) * (steps + 1) + k];
                        }
                    scored += count;
                }
            }
            var curve = sum.Select(v => scored > 0 ? v / scored : double.NaN).ToArray();
            var randomCurve = randomSum.Select(v => scored > 0 ? v / scored : double.NaN).ToArray();
            return Timed(clock, read, (seconds, rate) => new InterpretabilityMetric
            {
                Model = classifier.Name, Dataset = dataset.Name, Metric = deletion ? "Deletion" : "Insertion",
                Value = CurveArea.Trapezoid(curve), Chance = CurveArea.Trapezoid(randomCurve),
                ChanceMeaning = "pixels in a random order",
                Images = scored, Prototypes = totalPrototypes, Seconds = seconds, ImagesPerSecond = rate,
                Baseline = deletion ? DeletionBaseline : InsertionBaseline, Steps = steps,
                Curve = string.Join(" ", curve.Select(v => v.ToString("0.####", CultureInfo.InvariantCulture))),
                ChanceCurve = string.Join(" ", randomCurve.Select(v => v.ToString("0.####", CultureInfo.InvariantCulture))),
            });
        }

        /// <summary>Σ_j w[predicted, j] · similarity map_j, upsampled bicubically to the input, summed over members: [B, S, S] on the CPU.</summary>
        private Tensor Saliency(MemberPass[] passes, long[] predicted)
        {
            Tensor? total = null;
            for (int m = 0; m < passes.Length; m++)
            {
                var p = passes[m];
                var weights = new float[predicted.Length * p.Prototypes];
                for (int b = 0; b < predicted.Length; b++)
                    Array.Copy(p.Weights, predicted[b] * p.Prototypes, weights, b * p.Prototypes, p.Prototypes);
                var w = tensor(weights, [predicted.Length, p.Prototypes, 1, 1]).to(p.SimilarityMaps.device);
                var map = (p.SimilarityMaps * w).sum(1, keepdim: true);
                var up = interpolate(map.to(ScalarType.Float32), [size, size], mode: InterpolationMode.Bicubic, align_corners: false).squeeze(1).cpu();
                total = total is null ? up : total.Add(up);
            }
            return total!.contiguous();
        }

        // ---------------------------------------------------------------- per prototype

        public IReadOnlyList<PrototypeInterpretability> PrototypeRows()
        {
            var rows = new List<PrototypeInterpretability>(totalPrototypes);
            for (int m = 0; m < members.Count; m++)
            {
                var model = members[m];
                for (int j = 0; j < model.PrototypeCount; j++)
                {
                    int g = offsets[m] + j;
                    var (rate, part) = consistencyDone ? HitRate(inside[g], visible[g]) : (double.NaN, -1);
                    rows.Add(new PrototypeInterpretability
                    {
                        Model = memberNames[m],
                        MemberIndex = m,
                        Index = j,
                        Class = model.ClassNames[model.PrototypeClass[j]],
                        Images = consistencyDone ? images[g] : stabilityDone ? pairs[g] : 0,
                        PreferredPart = part >= 0 ? parts!.PartNames[part] : "",
                        HitRate = double.IsNaN(rate) ? null : rate,
                        Consistent = double.IsNaN(rate) ? null : rate >= options.ConsistencyThreshold,
                        Stability = stabilityDone && pairs[g] > 0 ? 100.0 * stablePairs[g] / pairs[g] : null,
                        SourceOnPart = pointingDone ? sourceOnPart[g] : null,
                        SourceImage = model.Provenance[j]?.SourceImage ?? "",
                    });
                }
            }
            return rows;
        }
    }
}
