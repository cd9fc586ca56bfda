using System.Collections.Concurrent;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace ProtoPNet.Data;

/// <summary>A part annotation (CUB parts/part_locs.txt): where part <see cref="PartId"/> is in the original image's pixels.</summary>
public sealed record PartLocation(int PartId, string Name, double X, double Y, bool Visible);

/// <summary>One image file of a data set: its label, and its annotations when the data set has them.</summary>
public sealed record DatasetItem(string Path, int Label, Rectangle? BoundingBox = null, IReadOnlyList<PartLocation>? Parts = null, int Id = 0);

/// <summary>How <c>Import-ProtoPNetDataset</c> reads a data set.</summary>
public sealed record DatasetImportOptions
{
    /// <summary>Train, Test or All (official splits of CUB, Cars and IDX; ImageFolder has no split and accepts only All).</summary>
    public string Split { get; init; } = "All";
    public bool CropToBoundingBox { get; init; }
    /// <summary>Read every image's header at import so bad files are reported then (fast: no pixels decoded).</summary>
    public bool Probe { get; init; } = true;
    /// <summary>Decode every image completely at import (slow; catches truncated files too).</summary>
    public bool Verify { get; init; }
    /// <summary>Class names to use instead of the data set's own (IDX: instead of the sniffed ones).</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }
    /// <summary>IDX: the labels file, when it is not the images file's usual partner.</summary>
    public string? LabelsPath { get; init; }
    public long? CacheBudgetBytes { get; init; }
    public CancellationToken Cancel { get; init; }
}

/// <summary>
/// A data set of image files on disk: ImageFolder, CUB-200-2011, Stanford Cars. Items decode on demand; when all items
/// at the requested size fit in <see cref="CacheBudgetBytes"/>, the decoded, resized pixels are kept after the first decode.
/// </summary>
public class FileImageDataset : ImageDataset
{
    /// <summary>Default decode-cache budget of new data sets: 1 GiB.</summary>
    public static long DefaultCacheBudgetBytes { get; set; } = 1L << 30;

    private readonly string name;
    private readonly string format;
    private readonly string split;
    private readonly string[] classNames;
    private readonly DatasetItem[] items;
    private readonly SkippedFile[] skippedFiles;
    private readonly string[] warnings;
    private readonly ConcurrentDictionary<(int Index, int Size), (byte[] Rgb, ImageGeometry Geometry)> cache = new();

    protected internal FileImageDataset(string name, string format, string root, string split, IReadOnlyList<string> classNames,
        IReadOnlyList<DatasetItem> items, bool cropToBoundingBox, IReadOnlyList<SkippedFile> skipped, IReadOnlyList<string> warnings,
        long? cacheBudgetBytes)
    {
        this.name = name;
        this.format = format;
        this.split = split;
        Root = root;
        this.classNames = classNames.ToArray();
        this.items = items.ToArray();
        CropToBoundingBox = cropToBoundingBox;
        skippedFiles = skipped.ToArray();
        this.warnings = warnings.ToArray();
        CacheBudgetBytes = cacheBudgetBytes ?? DefaultCacheBudgetBytes;
    }

    public override string Name => name;
    public override string Format => format;
    public override string Split => split;
    public override IReadOnlyList<string> ClassNames => classNames;
    public override int Count => items.Length;
    public override IReadOnlyList<SkippedFile> SkippedFiles => skippedFiles;
    public override IReadOnlyList<string> Warnings => warnings;
    public string Root { get; }
    public bool CropToBoundingBox { get; }
    public IReadOnlyList<DatasetItem> Items => items;
    /// <summary>Decoded pixels are cached when Count × size² × 3 bytes fits in this budget; 0 turns the cache off.</summary>
    public long CacheBudgetBytes { get; set; }
    public int CachedCount => cache.Count;

    public override int LabelOf(int index) => items[index].Label;
    public override string SourceOf(int index) => items[index].Path;
    public Rectangle? BoundingBoxOf(int index) => items[index].BoundingBox;
    public IReadOnlyList<PartLocation>? PartsOf(int index) => items[index].Parts;

    private Rectangle? CropOf(int index) => CropToBoundingBox ? items[index].BoundingBox : null;

    public override LoadedImage Load(int index, int size)
    {
        var (rgb, geometry) = LoadRgb(index, size);
        return new LoadedImage(ImageDecoder.ToTensor(rgb, size, size), geometry);
    }

    public override (byte[] Rgb, ImageGeometry Geometry) LoadRgb(int index, int size)
    {
        if (cache.TryGetValue((index, size), out var hit)) return hit;
        var loaded = ImageDecoder.LoadRgb(items[index].Path, size, CropOf(index));
        if ((long)items.Length * size * size * 3 <= CacheBudgetBytes) cache.TryAdd((index, size), loaded);
        return loaded;
    }

    public override Image<Rgb24> LoadOriginal(int index) => ImageDecoder.DecodeRgb(items[index].Path, CropOf(index));

    /// <summary>Drops the decoded pixels kept so far.</summary>
    public void ClearCache() => cache.Clear();

    /// <summary>
    /// Keeps the items whose files pass the header check (or a full decode with <paramref name="verify"/>); the others
    /// become skipped files with their error ids. Runs on all cores; the order of items is kept.
    /// </summary>
    internal static (List<DatasetItem> Kept, List<SkippedFile> Skipped) CheckFiles(IReadOnlyList<DatasetItem> items, bool verify, CancellationToken cancel)
    {
        var errors = new ProtoPNetException?[items.Count];
        Parallel.For(0, items.Count, new ParallelOptions { CancellationToken = cancel, MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            try
            {
                if (verify) ImageDecoder.DecodeRgb(items[i].Path).Dispose();
                else ImageDecoder.Probe(items[i].Path);
            }
            catch (ProtoPNetException e)
            {
                errors[i] = e;
            }
        });
        var kept = new List<DatasetItem>(items.Count);
        var skipped = new List<SkippedFile>();
        for (int i = 0; i < items.Count; i++)
        {
            if (errors[i] is { } e) skipped.Add(new SkippedFile(items[i].Path, e));
            else kept.Add(items[i]);
        }
        return (kept, skipped);
    }
}
