using ProtoPNet.Rendering;
using ProtoPNet.Data;
using ProtoPNet.Model;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace ProtoPNet.Explanation;

/// <summary>
/// Renders each prototype once into a folder: its patch (the box cut from the training image it was projected
/// onto) and that training image with the box drawn — the box of the page's <see cref="BoxMethod"/>, the same one
/// the rows report (<see cref="PrototypeProvenance.DrawnBox"/>). Source images are files, or items of the push dataset for
/// container formats (IDX "file#n"). Returns null file names when a prototype has no provenance or its source is gone.
/// </summary>
internal sealed class PrototypePictures
{
    private readonly string directory;
    private readonly ImageDataset? pushDataset;
    private readonly int imageSize;
    private readonly Dictionary<(ProtoPNetModel, int), (string? Patch, string? Source)> written = new();

    public PrototypePictures(string directory, int imageSize, ImageDataset? pushDataset, BoxMethod boxMethod)
    {
        this.directory = directory;
        this.imageSize = imageSize;
        this.pushDataset = pushDataset;
        BoxMethod = boxMethod;
    }

    /// <summary>The box method the pictures draw (a prototype pushed before windows were recorded falls back to Percentile).</summary>
    public BoxMethod BoxMethod { get; }

    /// <summary>A caption for a picture of this prototype that draws another box than the page's (a file without recorded windows); null otherwise.</summary>
    public string? FallbackCaption(PrototypeProvenance provenance) => provenance.DrawnBox(BoxMethod).Method == BoxMethod
        ? null
        : ImageRegion.Describe(BoxMethod.Percentile) + " (this model file has no receptive window for it; push again to record one)";

    /// <summary>File names (relative to the folder) of the patch and source pictures; rendered on first request.</summary>
    public (string? Patch, string? Source) Get(ProtoPNetModel model, int memberIndex, int prototype)
    {
        if (written.TryGetValue((model, prototype), out var known)) return known;
        var result = Render(model, memberIndex, prototype);
        written[(model, prototype)] = result;
        return result;
    }

    private (string? Patch, string? Source) Render(ProtoPNetModel model, int memberIndex, int prototype)
    {
        var provenance = model.Provenance[prototype];
        if (provenance is null) return (null, null);
        using var loaded = LoadSource(provenance, out var box);
        if (loaded is null) return (null, null);
        string stem = $"m{memberIndex}-p{prototype}";
        var clipped = Rectangle.Intersect(new Rectangle(box.X, box.Y, box.Width, box.Height), new Rectangle(0, 0, loaded.Width, loaded.Height));
        string? patchName = null;
        if (clipped.Width > 0 && clipped.Height > 0)
        {
            using var patch = loaded.Clone(x => x.Crop(clipped));
            Pictures.Enlarge(patch, Math.Max(1, (int)Math.Ceiling(64.0 / Math.Max(clipped.Width, clipped.Height))));
            patchName = $"{stem}-patch.png";
            Pictures.Save(patch, Path.Combine(directory, patchName));
        }
        // Large sources are shown at about 224 px on their long side; small ones are enlarged.
        double scale = Math.Max(loaded.Width, loaded.Height) > 320 ? 224.0 / Math.Max(loaded.Width, loaded.Height) : Pictures.DisplayScale(Math.Max(loaded.Width, loaded.Height));
        using var source = loaded.Clone(x => x.Resize(Math.Max(1, (int)Math.Round(loaded.Width * scale)), Math.Max(1, (int)Math.Round(loaded.Height * scale)),
            scale >= 1 ? KnownResamplers.NearestNeighbor : KnownResamplers.Triangle));
        var scaled = new PixelBox((int)Math.Floor(box.X * scale), (int)Math.Floor(box.Y * scale),
            (int)Math.Ceiling(box.Width * scale), (int)Math.Ceiling(box.Height * scale));
        Pictures.DrawBox(source, scaled, Pictures.BoxColor, Math.Max(2, source.Width / 80));
        string sourceName = $"{stem}-source.png";
        Pictures.Save(source, Path.Combine(directory, sourceName));
        return (patchName, sourceName);
    }

    /// <summary>The prototype's source image and the patch box in its pixels, or null when it cannot be found.</summary>
    private Image<Rgb24>? LoadSource(PrototypeProvenance provenance, out PixelBox box)
    {
        box = provenance.DrawnBox(BoxMethod).Box;
        try
        {
            if (File.Exists(provenance.SourceImage)) return ImageDecoder.DecodeRgb(provenance.SourceImage);
            if (pushDataset is not null && IndexInPushDataset(provenance) is int index)
            {
                using var item = LoadedImage.Held(() => pushDataset.Load(index, imageSize));
                box = box.ToInput(item.Geometry);
                return Pictures.FromChw(item.Pixels.data<float>().ToArray(), imageSize);
            }
        }
        catch (ProtoPNetException) { }
        return null;
    }

    private Dictionary<string, int>? indexBySource;

    /// <summary>
    /// The push-dataset item a provenance record names. The recorded index is tried first; a record made on another
    /// view of the same data (a split of it, say) is found by its source name instead.
    /// </summary>
    private int? IndexInPushDataset(PrototypeProvenance provenance)
    {
        var data = pushDataset!;
        if (provenance.SourceIndex >= 0 && provenance.SourceIndex < data.Count && data.SourceOf(provenance.SourceIndex) == provenance.SourceImage)
            return provenance.SourceIndex;
        if (indexBySource is null)
        {
            indexBySource = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i < data.Count; i++) indexBySource.TryAdd(data.SourceOf(i), i);
        }
        return indexBySource.TryGetValue(provenance.SourceImage, out int found) ? found : null;
    }
}
