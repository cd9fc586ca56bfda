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
