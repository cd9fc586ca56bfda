using System.Collections.Concurrent;
using ProtoPNet.Data;
using ProtoPNet.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Explanation;

/// <summary>An image to explain: a file, or an item of a dataset (then its label is known).</summary>
public sealed record ExplanationSource(string ImagePath, ImageDataset? Dataset = null, int Index = -1)
{
    public static ExplanationSource FromDataset(ImageDataset dataset, int index) => new(dataset.SourceOf(index), dataset, index);
}

public sealed record ExplanationOptions
{
    /// <summary>Rows per image; 0 = every prototype (of every member).</summary>
    public int Top { get; init; } = 10;
    /// <summary>Explain this class instead of the predicted one.</summary>
    public string? Class { get; init; }
    /// <summary>Rank prototypes by similarity regardless of class (the image's nearest prototypes) instead of by contribution.</summary>
    public bool Nearest { get; init; }
    /// <summary>When set, heat maps, prototype pictures and an HTML scoring sheet per image are written here.</summary>
    public string? OutputDirectory { get; init; }
    /// <summary>Where prototype source images that are items of a container file (IDX "file#n") can be loaded from.</summary>
    public ImageDataset? PushDataset { get; init; }
    /// <summary>Which box BoxX… holds and the scoring sheet draws: the best patch's receptive window, or the paper's percentile box.</summary>
    public BoxMethod BoxMethod { get; init; } = BoxMethod.ReceptiveField;
    /// <summary>Prototypes shown per class on a scoring sheet when <see cref="Top"/> is 0 (otherwise Top are shown).</summary>
    public int SheetRows { get; init; } = 10;

    internal int RowsPerSheetSection => Top > 0 ? Top : SheetRows;
}

/// <summary>The outcome for one input image: its rows, or the error that kept it from being explained.</summary>
public sealed record ImageExplanation(int ImageIndex, string ImagePath, IReadOnlyList<ExplanationRow> Rows, ProtoPNetException? Error,
    string? ScoringSheet);

/// <summary>One prototype's evidence in one image, before it becomes a row.</summary>
internal sealed class Evidence
{
    public int Member, Prototype, LatentRow, LatentColumn;
    public double Similarity, Distance;
    public PixelBox PercentileBox, InputWindow;
    /// <summary>The box shown: <see cref="InputWindow"/> or <see cref="PercentileBox"/>, by the options' box method.</summary>
    public PixelBox InputBox;
    public float[]? Map;
}

/// <summary>
/// Computes explanations batch by batch: a forward pass per member (eval, no gradients, under the member's SyncRoot),
/// then per image the evidence items ranked by Similarity × Weight, each with its activation box. One instance serves
/// one stream of images (it numbers them and, with pictures, writes an index page at <see cref="Finish"/>).
/// </summary>
public sealed class Explainer
{
    private readonly IClassifier classifier;
    private readonly ExplanationOptions options;
    private readonly int? explainedClass;
    private readonly string[] memberNames;
    private readonly ScoringSheetWriter? sheets;
    private int nextImageIndex;

    public Explainer(IClassifier classifier, ExplanationOptions options)
    {
        this.classifier = classifier;
        this.options = options;
        if (options.Top < 0)
            throw new ProtoPNetException("InvalidTop", ErrorKind.InvalidArgument, "Top must be 0 (all prototypes) or positive.", options.Top);
        if (options.Class is not null)
        {
            int index = classifier.ClassNames.ToList().FindIndex(c => string.Equals(c, options.Class, StringComparison.OrdinalIgnoreCase));
            if (index < 0)
                throw new ProtoPNetException("UnknownClass", ErrorKind.InvalidArgument,
                    $"The model has no class '{options.Class}'. Its classes: {string.Join(", ", classifier.ClassNames.Take(20))}{(classifier.ClassNames.Count > 20 ? ", …" : "")}.", options.Class);
            explainedClass = index;
        }
        memberNames = classifier is ProtoPNetEnsemble e ? e.MemberNames.ToArray() : [classifier.Name];
        if (options.OutputDirectory is not null)
            sheets = new ScoringSheetWriter(classifier, memberNames, options.OutputDirectory, options.PushDataset, options.BoxMethod);
    }

    /// <summary>Explains a batch; results come back in input order, failed items with their error.</summary>
    public IReadOnlyList<ImageExplanation> Explain(IReadOnlyList<ExplanationSource> batch, CancellationToken cancel = default)
    {
        int n = batch.Count;
        using var inference = InferenceScope.Begin(classifier);
        int firstIndex = nextImageIndex;
        nextImageIndex += n;
        var images = new LoadedImage?[n];
        var errors = new ProtoPNetException?[n];
        try
        {
            Load(batch, images, errors, cancel);
            var ok = Enumerable.Range(0, n).Where(i => images[i] is not null).ToArray();
            var results = new ImageExplanation[n];
            for (int i = 0; i < n; i++)
                if (errors[i] is not null) results[i] = new ImageExplanation(IndexOf(batch[i], firstIndex + i), batch[i].ImagePath, [], errors[i], null);
            if (ok.Length > 0)
            {
                var explained = ExplainLoaded(ok.Select(i => batch[i]).ToArray(), ok.Select(i => images[i]!).ToArray(),
                    ok.Select(i => IndexOf(batch[i], firstIndex + i)).ToArray(), cancel);
                for (int k = 0; k < ok.Length; k++) results[ok[k]] = explained[k];
            }
            return results;
        }
        finally
        {
            foreach (var image in images) image?.Dispose();
        }
    }

    /// <summary>
    /// ImageIndex of a source: a data set item's own index in its data set (so the rows of shards and of -Index
    /// selections carry the global index and merge by it), otherwise the position in this explainer's input stream.
    /// </summary>
    private static int IndexOf(ExplanationSource source, int position) => source.Dataset is not null ? source.Index : position;

    /// <summary>Writes the index page of the scoring sheets (when pictures are on).</summary>
    public void Finish() => sheets?.WriteIndex();

    private void Load(IReadOnlyList<ExplanationSource> batch, LoadedImage?[] images, ProtoPNetException?[] errors, CancellationToken cancel)
    {
        int size = classifier.ImageSize;
        // Files decode in parallel (ImageSharp is thread-safe); dataset items load in order, since a dataset need not be.
        var files = Enumerable.Range(0, batch.Count).Where(i => batch[i].Dataset is null).ToArray();
        Parallel.ForEach(files, new ParallelOptions { CancellationToken = cancel, MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            try { images[i] = LoadedImage.Held(() => ImageDecoder.Load(batch[i].ImagePath, size)); }
            catch (ProtoPNetException e) { errors[i] = e; }
        });
        for (int i = 0; i < batch.Count; i++)
        {
            if (batch[i].Dataset is not { } dataset) continue;
            try { images[i] = LoadedImage.Held(() => dataset.Load(batch[i].Index, size)); }
            catch (ProtoPNetException e) { errors[i] = e; }
        }
    }

    /// <summary>What one member's forward pass leaves behind, on the CPU except the distance maps.</summary>
    private sealed class MemberPass
    {
        public required float[] Logits, MinDistances, Similarities, Weights;
        public required long[] Argmin;
        public required Tensor DistanceMaps;
        public int Prototypes, MapHeight, MapWidth;
    }

    private ImageExplanation[] ExplainLoaded(ExplanationSource[] sources, LoadedImage[] images, int[] imageIndices, CancellationToken cancel)
    {
        cancel.ThrowIfCancellationRequested();
        using var scope = NewDisposeScope();
        int n = images.Length, classes = classifier.ClassNames.Count, size = classifier.ImageSize;
        var pixels = torch.stack(images.Select(i => i.Pixels));
        var input = Normalize.Apply(pixels, classifier.Normalization);
        var members = classifier.Members;
        var passes = members.Select(m => Forward(m, input)).ToArray();

        var logits = new double[n * classes];
        foreach (var p in passes)
            for (int i = 0; i < logits.Length; i++) logits[i] += p.Logits[i];

        var plans = new ImagePlan[n];
        for (int b = 0; b < n; b++) plans[b] = Plan(b, logits.AsSpan(b * classes, classes), passes);

        ComputeBoxes(plans, passes, size, keepMaps: sheets is not null);

        float[]? pixelValues = sheets is not null ? pixels.data<float>().ToArray() : null;
        var results = new ImageExplanation[n];
        for (int b = 0; b < n; b++)
        {
            var plan = plans[b];
            var source = sources[b];
            string trueClass = source.Dataset is { } d ? d.ClassNames[d.LabelOf(source.Index)] : "";
            string? sheetPath = null;
            if (sheets is not null)
            {
                sheetPath = sheets.Write(new SheetImage(imageIndices[b], source.ImagePath, trueClass, images[b].Geometry,
                    pixelValues.AsSpan(b * 3 * size * size, 3 * size * size).ToArray(), plan.Sections(this, passes, options.RowsPerSheetSection)));
            }
            var rows = plan.Rows.Select((e, r) => ToRow(e, r + 1, plan, source.ImagePath, trueClass, imageIndices[b], images[b].Geometry, passes, sheetPath)).ToList();
            results[b] = new ImageExplanation(imageIndices[b], source.ImagePath, rows, null, sheetPath);
        }
        return results;
    }

    private static MemberPass Forward(ProtoPNetModel model, Tensor input) => model.Infer(network =>
    {
        var output = network.forward(input.to(model.Device));
        var similarities = network.Similarities(output.MinDistances);
        var maps = output.DistanceMaps;
        return new MemberPass
        {
            Logits = output.Logits.cpu().data<float>().ToArray(),
            MinDistances = output.MinDistances.cpu().data<float>().ToArray(),
            Similarities = similarities.cpu().data<float>().ToArray(),
            Argmin = maps.flatten(2).argmin(2).cpu().data<long>().ToArray(),
            Weights = network.LastLayer.weight!.detach().cpu().data<float>().ToArray(),
            DistanceMaps = maps,
            Prototypes = (int)maps.shape[1],
            MapHeight = (int)maps.shape[2],
            MapWidth = (int)maps.shape[3],
        };
    });

    /// <summary>Per image: the classes to show, and the evidence (all prototypes, ranked) for each.</summary>
    private sealed class ImagePlan
    {
        public required double[] Logits, Probabilities;
        public int Predicted, Explained, Other;
        public required List<Evidence> Ranked;          // every prototype of every member, ranked for the explained class
        public required List<Evidence> Rows;            // the first Top of Ranked
        public List<Evidence>? OtherRanked;             // ranked for the other class (sheets only)

        public List<SheetSection> Sections(Explainer owner, MemberPass[] passes, int sheetRows)
        {
            var sections = new List<SheetSection>();
            var names = owner.classifier.ClassNames;
            string title = owner.options.Nearest ? "Nearest prototypes, any class"
                : Explained == Predicted ? "Predicted class" : "Chosen class";
            sections.Add(Section(owner, passes, title, Explained, Ranked, sheetRows));
            if (OtherRanked is not null)
                sections.Add(Section(owner, passes, Other == Predicted ? "Predicted class" : "Runner-up", Other, OtherRanked, sheetRows));
            return sections;

            SheetSection Section(Explainer o, MemberPass[] p, string t, int c, List<Evidence> ranked, int rows)
            {
                var shown = ranked.Take(rows).Select(e => (e, Weight(p, e, c))).ToList();
                double total = ranked.Sum(e => e.Similarity * Weight(p, e, c));
                return new SheetSection(t, names[c], Logits[c], Probabilities[c], shown, ranked.Count, total);
            }
        }
    }

    private static double Weight(MemberPass[] passes, Evidence e, int c) => passes[e.Member].Weights[c * passes[e.Member].Prototypes + e.Prototype];

    private ImagePlan Plan(int b, ReadOnlySpan<double> logits, MemberPass[] passes)
    {
        var l = logits.ToArray();
        double max = l.Max();
        var exp = l.Select(v => Math.Exp(v - max)).ToArray();
        double z = exp.Sum();
        var probabilities = exp.Select(v => v / z).ToArray();
        int predicted = Array.IndexOf(l, max);
        int explained = explainedClass ?? predicted;
        int other = explained != predicted ? predicted
            : l.Length > 1 ? Enumerable.Range(0, l.Length).Where(c => c != explained).MaxBy(c => l[c]) : -1;

        var all = new List<Evidence>();
        for (int m = 0; m < passes.Length; m++)
        {
            var p = passes[m];
            for (int j = 0; j < p.Prototypes; j++)
            {
                long cell = p.Argmin[b * p.Prototypes + j];
                all.Add(new Evidence
                {
                    Member = m, Prototype = j,
                    Similarity = p.Similarities[b * p.Prototypes + j],
                    Distance = p.MinDistances[b * p.Prototypes + j],
                    LatentRow = (int)(cell / p.MapWidth), LatentColumn = (int)(cell % p.MapWidth),
                });
            }
        }
        List<Evidence> Rank(int c) => options.Nearest
            ? all.OrderByDescending(e => e.Similarity).ThenBy(e => e.Member).ThenBy(e => e.Prototype).ToList()
            : all.OrderByDescending(e => e.Similarity * Weight(passes, e, c)).ThenBy(e => e.Member).ThenBy(e => e.Prototype).ToList();
        var ranked = Rank(explained);
        return new ImagePlan
        {
            Logits = l, Probabilities = probabilities, Predicted = predicted, Explained = explained, Other = other,
            Ranked = ranked,
            Rows = options.Top == 0 ? ranked : ranked.Take(options.Top).ToList(),
            OtherRanked = sheets is not null && other >= 0 && !options.Nearest ? Rank(other) : null,
        };
    }

    /// <summary>Activation boxes (and, for sheets, upsampled maps) for every evidence item that will be shown.</summary>
    private void ComputeBoxes(ImagePlan[] plans, MemberPass[] passes, int size, bool keepMaps)
    {
        var members = classifier.Members;
        for (int m = 0; m < passes.Length; m++)
        {
            // Each evidence item once; a map is kept only for items a sheet shows (all maps of -Top 0 at 224 px would not fit).
            var wanted = new Dictionary<Evidence, (int Image, bool Map)>();
            for (int b = 0; b < plans.Length; b++)
            {
                foreach (var e in plans[b].Rows) if (e.Member == m) wanted.TryAdd(e, (b, false));
                if (!keepMaps) continue;
                foreach (var e in plans[b].Ranked.Take(options.RowsPerSheetSection).Concat(plans[b].OtherRanked?.Take(options.RowsPerSheetSection) ?? []))
                    if (e.Member == m) wanted[e] = (b, true);
            }
            foreach (var group in wanted.GroupBy(w => w.Value.Map))
            {
                var items = group.ToList();
                var p = passes[m];
                var model = members[m];
                using var scope = NewDisposeScope();
                var flatIndex = torch.tensor(items.Select(w => (long)w.Value.Image * p.Prototypes + w.Key.Prototype).ToArray(), device: p.DistanceMaps.device);
                var maps = p.DistanceMaps.flatten(0, 1).index_select(0, flatIndex);
                var activations = ImageRegion.Activations(maps, model.Network);
                var boxes = ImageRegion.PercentileBoxes(activations, size, out var upsampled, group.Key);
                for (int k = 0; k < items.Count; k++)
                {
                    var e = items[k].Key;
                    e.PercentileBox = boxes[k];
                    e.InputWindow = ImageRegion.ReceptiveWindow(model, e.LatentRow, e.LatentColumn);
                    e.InputBox = options.BoxMethod == BoxMethod.Percentile ? e.PercentileBox : e.InputWindow;
                    if (upsampled is not null) e.Map = upsampled[k];
                }
            }
        }
    }

    private ExplanationRow ToRow(Evidence e, int rank, ImagePlan plan, string imagePath, string trueClass, int imageIndex,
        ImageGeometry geometry, MemberPass[] passes, string? sheetPath)
    {
        var model = classifier.Members[e.Member];
        var provenance = model.Provenance[e.Prototype];
        double weight = Weight(passes, e, plan.Explained);
        var box = e.InputBox.ToOriginal(geometry);
        var window = e.InputWindow.ToOriginal(geometry);
        int side = model.PatchReceptiveField.Size;
        var prototypeBox = provenance?.Box(options.BoxMethod);
        var names = classifier.ClassNames;
        return new ExplanationRow
        {
            ImagePath = imagePath,
            PredictedClass = names[plan.Predicted],
            Probability = plan.Probabilities[plan.Predicted],
            Logit = plan.Logits[plan.Predicted],
            TrueClass = trueClass,
            Rank = rank,
            Model = memberNames[e.Member],
            PrototypeIndex = e.Prototype,
            PrototypeClass = model.ClassNames[model.PrototypeClass[e.Prototype]],
            Similarity = e.Similarity,
            Distance = e.Distance,
            Weight = weight,
            Contribution = e.Similarity * weight,
            BoxX = box.X, BoxY = box.Y, BoxWidth = box.Width, BoxHeight = box.Height,
            PrototypeImage = provenance?.SourceImage ?? "",
            PrototypeBoxX = prototypeBox?.X,
            PrototypeBoxY = prototypeBox?.Y,
            PrototypeBoxWidth = prototypeBox?.Width,
            PrototypeBoxHeight = prototypeBox?.Height,
            ImageIndex = imageIndex,
            ExplainedClass = names[plan.Explained],
            ExplainedLogit = plan.Logits[plan.Explained],
            LatentRow = e.LatentRow,
            LatentColumn = e.LatentColumn,
            ReceptiveField = (int)Math.Round(side * (double)geometry.CropWidth / geometry.InputSize),
            ReceptiveFieldX = window.X, ReceptiveFieldY = window.Y, ReceptiveFieldWidth = window.Width, ReceptiveFieldHeight = window.Height,
            ScoringSheet = sheetPath ?? "",
            BoxMethod = options.BoxMethod.ToString(),
            MemberIndex = e.Member,
        };
    }
}
