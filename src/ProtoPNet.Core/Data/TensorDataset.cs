using static TorchSharp.torch;

namespace ProtoPNet.Data;

/// <summary>
/// Images already in memory as an RGB float tensor [N, 3, H, W] in [0, 1] with labels; items are resized
/// on load when the model's input size differs. Used for IDX data and by tests.
/// </summary>
public sealed class TensorDataset : ImageDataset, IInMemoryDataset
{
    private readonly Tensor images;
    private readonly int[] labels;
    private readonly string[] classNames;
    private readonly string name;

    public TensorDataset(string name, Tensor images, int[] labels, IReadOnlyList<string> classNames)
    {
        if (images.ndim != 4 || images.shape[1] != 3 || images.shape[0] != labels.Length)
            throw new ArgumentException("images must be [N, 3, H, W] with one label per image");
        this.name = name;
        this.images = images;
        this.labels = labels;
        this.classNames = classNames.ToArray();
    }

    public override string Name => name;
    public override IReadOnlyList<string> ClassNames => classNames;
    public override int Count => labels.Length;
    public override int LabelOf(int index) => labels[index];
    public override string SourceOf(int index) => $"{name}#{index}";
    public Tensor Images => images;

    public override LoadedImage Load(int index, int size)
    {
        int h = (int)images.shape[2], w = (int)images.shape[3];
        using var scope = NewDisposeScope();
        var item = images[index].unsqueeze(0);
        var pixels = (h == size && w == size)
            ? item.squeeze(0).clone()
            : nn.functional.interpolate(item, [size, size], mode: InterpolationMode.Bilinear, align_corners: false).squeeze(0);
        return new LoadedImage(pixels.MoveToOuterDisposeScope(), ImageGeometry.Whole(w, h, size));
    }

    public bool IsInMemory => true;

    public Tensor LoadBatch(IReadOnlyList<int> indices, int size)
    {
        using var scope = NewDisposeScope();
        using var index = tensor(indices.Select(i => (long)i).ToArray());
        var batch = images.index_select(0, index);
        if (batch.shape[2] != size || batch.shape[3] != size)
            batch = nn.functional.interpolate(batch, [size, size], mode: InterpolationMode.Bilinear, align_corners: false);
        return batch.contiguous().MoveToOuterDisposeScope();
    }
}
