using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace ProtoPNet.Data;

/// <summary>Some items of another data set, e.g. the train or validation part of a split. Pixels are the parent's.</summary>
public sealed class SubsetDataset : ImageDataset, IInMemoryDataset
{
    private readonly int[] indices;

    public SubsetDataset(ImageDataset parent, IReadOnlyList<int> indices, string split, string? name = null)
    {
        Parent = parent;
        this.indices = indices.ToArray();
        foreach (int i in this.indices)
            if (i < 0 || i >= parent.Count) throw new ArgumentOutOfRangeException(nameof(indices), $"index {i} is outside the parent's 0..{parent.Count - 1}");
        Split = split;
        Name = name ?? $"{parent.Name} ({split})";
    }

    public ImageDataset Parent { get; }
    /// <summary>Item i of this subset is item ParentIndices[i] of <see cref="Parent"/>.</summary>
    public IReadOnlyList<int> ParentIndices => indices;
    public override string Name { get; }
    public override string Format => Parent.Format;
    public override string Split { get; }
    public override IReadOnlyList<string> ClassNames => Parent.ClassNames;
    public override int Count => indices.Length;
    public override IReadOnlyList<SkippedFile> SkippedFiles => Parent.SkippedFiles;
    public override int LabelOf(int index) => Parent.LabelOf(indices[index]);
    public override string SourceOf(int index) => Parent.SourceOf(indices[index]);
    public override LoadedImage Load(int index, int size) => Parent.Load(indices[index], size);
    public override (byte[] Rgb, ImageGeometry Geometry) LoadRgb(int index, int size) => Parent.LoadRgb(indices[index], size);
    public override Image<Rgb24> LoadOriginal(int index) => Parent.LoadOriginal(indices[index]);

    /// <summary>True when the parent holds its pixels in memory (batches then come without decoding).</summary>
    public bool IsInMemory => Parent is IInMemoryDataset { IsInMemory: true };

    public Tensor LoadBatch(IReadOnlyList<int> batchIndices, int size) => Parent is IInMemoryDataset { IsInMemory: true } memory
        ? memory.LoadBatch(batchIndices.Select(i => indices[i]).ToArray(), size)
        : throw new InvalidOperationException($"'{Parent.Name}' does not hold its pixels in memory.");
}

/// <summary>Seeded, stratified train/validation splits: model selection never needs the test set.</summary>
public static class DatasetSplit
{
    /// <summary>
    /// Puts round(<paramref name="validationFraction"/> × n_k) items of each class k into validation (at least one when the
    /// class has two or more items and the fraction is above 0), chosen by a Fisher–Yates shuffle seeded with
    /// <paramref name="seed"/>; both parts keep the parent's item order.
    /// </summary>
    public static (SubsetDataset Train, SubsetDataset Validation) Stratified(ImageDataset dataset, double validationFraction, int seed)
    {
        if (!(validationFraction > 0 && validationFraction < 1))
            throw new ProtoPNetException("InvalidValidationFraction", ErrorKind.InvalidArgument,
                $"The validation fraction must be between 0 and 1 (exclusive); got {validationFraction}.", validationFraction);
        var byClass = new List<int>[dataset.ClassCount];
        for (int k = 0; k < byClass.Length; k++) byClass[k] = new List<int>();
        for (int i = 0; i < dataset.Count; i++) byClass[dataset.LabelOf(i)].Add(i);
        var random = new Random(seed);
        var validation = new HashSet<int>();
        foreach (var members in byClass)
        {
            int take = (int)Math.Round(validationFraction * members.Count, MidpointRounding.AwayFromZero);
            if (take == 0 && members.Count >= 2) take = 1;
            if (take >= members.Count && members.Count > 0) take = members.Count - 1;
            var shuffled = members.ToArray();
            for (int i = shuffled.Length - 1; i > 0; i--)
            {
                int j = random.Next(i + 1);
                (shuffled[i], shuffled[j]) = (shuffled[j], shuffled[i]);
            }
            for (int i = 0; i < take; i++) validation.Add(shuffled[i]);
        }
        var train = Enumerable.Range(0, dataset.Count).Where(i => !validation.Contains(i)).ToArray();
        var held = Enumerable.Range(0, dataset.Count).Where(validation.Contains).ToArray();
        string baseSplit = dataset.Split == "All" ? "" : dataset.Split + "/";
        return (new SubsetDataset(dataset, train, "Train", $"{dataset.Name} ({baseSplit}train part)"),
                new SubsetDataset(dataset, held, "Validation", $"{dataset.Name} ({baseSplit}validation part)"));
    }
}
