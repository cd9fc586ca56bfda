using ProtoPNet.Model;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using static TorchSharp.torch;

namespace ProtoPNet.Data;

/// <summary>
/// How a model-input pixel maps back to the original image: the input is the crop
/// (CropX, CropY, CropWidth, CropHeight) of the original, resized to InputSize × InputSize.
/// </summary>
public sealed record ImageGeometry(int OriginalWidth, int OriginalHeight, int CropX, int CropY, int CropWidth, int CropHeight, int InputSize)
{
    public static ImageGeometry Whole(int width, int height, int inputSize) => new(width, height, 0, 0, width, height, inputSize);

    /// <summary>Maps a box in model-input pixels to original-image pixels (rounded outward, clipped to the image).</summary>
    public (int X, int Y, int Width, int Height) ToOriginal(int x, int y, int width, int height)
    {
        double sx = (double)CropWidth / InputSize, sy = (double)CropHeight / InputSize;
        int x0 = Math.Clamp((int)Math.Floor(CropX + x * sx), 0, OriginalWidth);
        int y0 = Math.Clamp((int)Math.Floor(CropY + y * sy), 0, OriginalHeight);
        int x1 = Math.Clamp((int)Math.Ceiling(CropX + (x + width) * sx), 0, OriginalWidth);
        int y1 = Math.Clamp((int)Math.Ceiling(CropY + (y + height) * sy), 0, OriginalHeight);
        return (x0, y0, Math.Max(0, x1 - x0), Math.Max(0, y1 - y0));
    }
}

/// <summary>An image as the model sees it, before normalization: RGB float [3, S, S] in [0, 1].</summary>
public sealed record LoadedImage(Tensor Pixels, ImageGeometry Geometry) : IDisposable
{
    public void Dispose() => Pixels.Dispose();

    /// <summary>
    /// Runs <paramref name="load"/> inside a dispose scope of its own, so that every temporary tensor of the decoding is
    /// held until its native calls return, on whichever thread (docs/performance.md, "Object lifetimes"); the image's
    /// pixels are detached from it and belong to the caller.
    /// </summary>
    public static LoadedImage Held(Func<LoadedImage> load)
    {
        using var scope = NewDisposeScope();
        var loaded = load();
        loaded.Pixels.DetachFromDisposeScope();
        return loaded;
    }
}

/// <summary>
/// A labelled image collection. Implementations: image folders, CUB-200-2011, Stanford Cars, IDX files,
/// and in-memory tensors. Loading an item that cannot be decoded throws a <see cref="ProtoPNetException"/>
/// whose ErrorId names the problem (callers report it and skip the item).
/// </summary>
public abstract class ImageDataset
{
    public abstract string Name { get; }
    public abstract IReadOnlyList<string> ClassNames { get; }
    public abstract int Count { get; }
    public abstract int LabelOf(int index);
    /// <summary>Where item <paramref name="index"/> came from: a full path, or "file#n" for items of a container file.</summary>
    public abstract string SourceOf(int index);
    /// <summary>Decodes item <paramref name="index"/>, crops it as the dataset says, resizes it to <paramref name="size"/>.</summary>
    public abstract LoadedImage Load(int index, int size);

    public int[] CountPerClass()
    {
        var counts = new int[ClassNames.Count];
        for (int i = 0; i < Count; i++) counts[LabelOf(i)]++;
        return counts;
    }

    /// <summary>How the data set was read: ImageFolder, Cub200, StanfordCars, Idx, Tensor.</summary>
    public virtual string Format => "Tensor";

    public int ClassCount => ClassNames.Count;

    /// <summary>Which part of the data: All, Train, Test, or Validation for the held-out part of a split.</summary>
    public virtual string Split => "All";

    /// <summary>Files found at import but left out because they could not be read; each carries its error id.</summary>
    public virtual IReadOnlyList<SkippedFile> SkippedFiles => [];

    public int SkippedCount => SkippedFiles.Count;

    /// <summary>Non-fatal remarks from import (e.g. an empty class folder).</summary>
    public virtual IReadOnlyList<string> Warnings => [];

    /// <summary>Item counts per class name, in class order.</summary>
    public IReadOnlyDictionary<string, int> ClassCounts
    {
        get
        {
            var counts = CountPerClass();
            var ordered = new Dictionary<string, int>();
            for (int k = 0; k < counts.Length; k++) ordered[ClassNames[k]] = counts[k];
            return ordered;
        }
    }

    /// <summary>
    /// Item <paramref name="index"/> at <paramref name="size"/> × <paramref name="size"/> as interleaved RGB bytes (H·W·3),
    /// cropped as the data set says; what online augmentation and the decode cache work on.
    /// </summary>
    public virtual (byte[] Rgb, ImageGeometry Geometry) LoadRgb(int index, int size)
    {
        using var scope = NewDisposeScope();
        using var loaded = Load(index, size);
        using var image = ImageDecoder.FromTensor(loaded.Pixels);
        return (ImageDecoder.ToBytes(image), loaded.Geometry);
    }

    /// <summary>Item <paramref name="index"/> at its own resolution, cropped as the data set says (offline augmentation, rendering).</summary>
    public virtual Image<Rgb24> LoadOriginal(int index)
    {
        int size = 0;
        using (var probe = Load(index, 1)) size = Math.Max(probe.Geometry.CropWidth, probe.Geometry.CropHeight);
        using var loaded = Load(index, Math.Max(1, size));
        var image = ImageDecoder.FromTensor(loaded.Pixels);
        var g = loaded.Geometry;
        if (g.CropWidth != image.Width || g.CropHeight != image.Height)
            image.Mutate(x => x.Resize(Math.Max(1, g.CropWidth), Math.Max(1, g.CropHeight)));
        return image;
    }
}

/// <summary>A file found at import that was left out of the data set, and why.</summary>
public sealed record SkippedFile(string Path, ProtoPNetException Error)
{
    public string ErrorId => Error.ErrorId;
}

/// <summary>
/// A data set whose pixels are already in memory: <see cref="BatchReader"/> asks it for whole batches at once
/// instead of item by item (no decoding, no prefetch needed).
/// </summary>
public interface IInMemoryDataset
{
    /// <summary>False when the pixels are not in memory after all (a subset of a data set of files).</summary>
    bool IsInMemory { get; }

    /// <summary>Items <paramref name="indices"/> as RGB floats [B, 3, size, size] in [0, 1].</summary>
    Tensor LoadBatch(IReadOnlyList<int> indices, int size);
}

/// <summary>One batch: normalized images [B,3,S,S], labels [B] (int64), and which dataset items they are.</summary>
public sealed record Batch(Tensor Images, Tensor Labels, int[] Indices) : IDisposable
{
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

/// <summary>An item that could not be loaded and was skipped.</summary>
public sealed record SkippedItem(int Index, string Source, ProtoPNetException Error);
