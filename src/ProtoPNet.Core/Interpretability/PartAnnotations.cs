using System.Globalization;
using ProtoPNet.Data;

namespace ProtoPNet.Interpretability;

/// <summary>
/// A visible part of an image in its original pixels: a box (X, Y, Width, Height) or, when Width = Height = 0, a
/// keypoint at pixel (X, Y) — the way CUB's <c>part_locs.txt</c> gives them.
/// </summary>
public sealed record PartRegion(string Part, double X, double Y, double Width, double Height)
{
    public bool IsPoint => Width <= 0 && Height <= 0;
}

/// <summary>
/// A part in model-input pixels. A keypoint is the 1×1 box of the input pixel it falls in. Its centre, in continuous
/// coordinates where pixel i covers [i, i + 1), is what consistency tests against a box.
/// </summary>
public readonly record struct InputPart(string Part, PixelBox Box, bool IsPoint)
{
    public double CentreX => Box.X + Box.Width / 2.0;
    public double CentreY => Box.Y + Box.Height / 2.0;

    /// <summary>The part's centre lies in <paramref name="box"/> (for a keypoint: the box holds its pixel).</summary>
    public bool CentreIn(PixelBox box) =>
        CentreX >= box.X && CentreX < box.X + box.Width && CentreY >= box.Y && CentreY < box.Y + box.Height;
}

/// <summary>
/// Part annotations of a data set's images: CUB-200-2011's visible keypoints (kept per item by the CUB import), or a
/// CSV with columns <c>Image,Part,X,Y,Width,Height</c> (Image relative to the CSV's folder with '/' separators, or
/// absolute; box in the original image's pixels; Width = Height = 0 for a keypoint). Parts stay in original pixels
/// here; <see cref="ToInput"/> maps them through an image's crop and resize when the image is loaded.
/// </summary>
public sealed class PartAnnotations
{
    private readonly Dictionary<string, PartRegion[]> byImage;
    private readonly PartRegion[]?[] byItem;

    private PartAnnotations(string source, Dictionary<string, PartRegion[]> byImage, PartRegion[]?[] byItem)
    {
        Source = source;
        this.byImage = byImage;
        this.byItem = byItem;
        PartNames = byImage.Values.SelectMany(r => r).Select(r => r.Part).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>Where the annotations came from: the CSV's path, or "CUB-200-2011 parts/part_locs.txt".</summary>
    public string Source { get; }
    public IReadOnlyList<string> PartNames { get; }
    /// <summary>Images of the data set that have at least one visible part.</summary>
    public int ImagesWithParts => byItem.Count(p => p is { Length: > 0 });
    /// <summary>Images the annotations name (also those outside the data set: push sources of a training split).</summary>
    public int AnnotatedImages => byImage.Count;

    /// <summary>The visible parts of data set item <paramref name="index"/>, in original pixels; null when it has none.</summary>
    public IReadOnlyList<PartRegion>? For(int index) => index >= 0 && index < byItem.Length ? byItem[index] : null;

    /// <summary>The visible parts of the image at <paramref name="path"/> (any image the annotations name); null when none.</summary>
    public IReadOnlyList<PartRegion>? ForImage(string path) =>
        byImage.TryGetValue(NormalizePath(path), out var parts) ? parts : null;

    /// <summary>The CUB parts of a data set (a CUB import, or a subset of one); null when it has none.</summary>
    public static PartAnnotations? FromDataset(ImageDataset dataset)
    {
        var (files, map) = Unwrap(dataset);
        if (files is null) return null;
        var byItem = new PartRegion[]?[dataset.Count];
        bool any = false;
        for (int i = 0; i < dataset.Count; i++)
        {
            var parts = files.PartsOf(map(i));
            if (parts is null) continue;
            byItem[i] = parts.Where(p => p.Visible).Select(p => new PartRegion(p.Name, p.X, p.Y, 0, 0)).ToArray();
            any = true;
        }
        if (!any) return null;
        var byImage = new Dictionary<string, PartRegion[]>(StringComparer.Ordinal);
        // Push sources are usually training images, outside a test split: the whole CUB tree's parts answer for them.
        IReadOnlyList<DatasetItem> everything = files.Items;
        if (files is Cub200Dataset && files.Split != "All")
        {
            try { everything = Cub200Dataset.Open(files.Root, new DatasetImportOptions { Split = "All", Probe = false }).Items; }
            catch (ProtoPNetException) { }
        }
        foreach (var item in everything)
            if (item.Parts is { } parts)
                byImage[NormalizePath(item.Path)] = parts.Where(p => p.Visible).Select(p => new PartRegion(p.Name, p.X, p.Y, 0, 0)).ToArray();
        return new PartAnnotations("CUB-200-2011 parts/part_locs.txt", byImage, byItem);
    }

    private static (FileImageDataset? Files, Func<int, int> Map) Unwrap(ImageDataset dataset) => dataset switch
    {
        FileImageDataset f => (f, i => i),
        SubsetDataset s when Unwrap(s.Parent) is ({ } f, var inner) => (f, i => inner(s.ParentIndices[i])),
        _ => (null, i => i),
    };

    /// <summary>
    /// Reads a parts CSV and matches its images to <paramref name="dataset"/>'s items by full path. Errors:
    /// PartsFileNotFound, PartsFileMalformed (with the line), PartsDoNotMatchDataset (no image of the file is in the data set).
    /// </summary>
    public static PartAnnotations FromCsv(string path, ImageDataset dataset)
    {
        if (!File.Exists(path))
            throw new ProtoPNetException("PartsFileNotFound", ErrorKind.ObjectNotFound, $"Parts file '{path}' does not exist.", path);
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var rows = new Dictionary<string, List<PartRegion>>(StringComparer.Ordinal);
        int lineNumber = 0;
        bool header = false;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var fields = SplitCsv(line);
            if (!header)
            {
                string[] expected = ["Image", "Part", "X", "Y", "Width", "Height"];
                if (fields.Count != expected.Length || !fields.Zip(expected).All(p => string.Equals(p.First.Trim(), p.Second, StringComparison.OrdinalIgnoreCase)))
                    throw Malformed(path, lineNumber, $"the header must be '{string.Join(",", expected)}', not '{line.Trim()}'.");
                header = true;
                continue;
            }
            if (fields.Count != 6) throw Malformed(path, lineNumber, $"{fields.Count} fields, expected 6.");
            if (fields[0].Trim().Length == 0) throw Malformed(path, lineNumber, "the Image field is empty.");
            var numbers = new double[4];
            for (int c = 0; c < 4; c++)
                if (!double.TryParse(fields[2 + c], NumberStyles.Float, CultureInfo.InvariantCulture, out numbers[c]) || !double.IsFinite(numbers[c]))
                    throw Malformed(path, lineNumber, $"'{fields[2 + c]}' is not a number.");
            if (numbers[2] < 0 || numbers[3] < 0) throw Malformed(path, lineNumber, "Width and Height must not be negative.");
            string image = fields[0].Trim().Replace('/', Path.DirectorySeparatorChar);
            string full = NormalizePath(Path.IsPathRooted(image) ? image : Path.Combine(folder, image));
            if (!rows.TryGetValue(full, out var list)) rows[full] = list = new List<PartRegion>();
            list.Add(new PartRegion(fields[1].Trim(), numbers[0], numbers[1], numbers[2], numbers[3]));
        }
        if (!header) throw Malformed(path, lineNumber, "the file is empty.");
        if (rows.Count == 0) throw Malformed(path, lineNumber, "the file has a header but no parts.");
        var byImage = rows.ToDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.Ordinal);
        var byItem = new PartRegion[]?[dataset.Count];
        int matched = 0;
        for (int i = 0; i < dataset.Count; i++)
            if (byImage.TryGetValue(NormalizePath(dataset.SourceOf(i)), out var parts)) { byItem[i] = parts; matched++; }
        if (matched == 0)
            throw new ProtoPNetException("PartsDoNotMatchDataset", ErrorKind.InvalidArgument,
                $"None of the {byImage.Count} images in parts file '{path}' is an image of data set '{dataset.Name}' (e.g. '{byImage.Keys.First()}' vs '{(dataset.Count > 0 ? dataset.SourceOf(0) : "")}'). " +
                "Image paths are relative to the CSV's folder.", path);
        return new PartAnnotations(Path.GetFullPath(path), byImage, byItem);
    }

    /// <summary>
    /// Parts in model-input pixels: through the crop and the resize of <paramref name="g"/>. A keypoint lands in input
    /// pixel (⌊(x − CropX)·S/CropWidth⌋, ⌊(y − CropY)·S/CropHeight⌋); a box is rounded outward and clipped. Parts
    /// outside the crop are dropped.
    /// </summary>
    public static InputPart[] ToInput(IReadOnlyList<PartRegion>? parts, ImageGeometry g)
    {
        if (parts is null || parts.Count == 0) return [];
        double sx = (double)g.InputSize / g.CropWidth, sy = (double)g.InputSize / g.CropHeight;
        var result = new List<InputPart>(parts.Count);
        foreach (var p in parts)
        {
            if (p.IsPoint)
            {
                double ix = (p.X - g.CropX) * sx, iy = (p.Y - g.CropY) * sy;
                if (ix < 0 || iy < 0 || ix >= g.InputSize || iy >= g.InputSize) continue;
                result.Add(new InputPart(p.Part, new PixelBox((int)Math.Floor(ix), (int)Math.Floor(iy), 1, 1), true));
                continue;
            }
            int x0 = Math.Clamp((int)Math.Floor((p.X - g.CropX) * sx), 0, g.InputSize);
            int y0 = Math.Clamp((int)Math.Floor((p.Y - g.CropY) * sy), 0, g.InputSize);
            int x1 = Math.Clamp((int)Math.Ceiling((p.X + p.Width - g.CropX) * sx), 0, g.InputSize);
            int y1 = Math.Clamp((int)Math.Ceiling((p.Y + p.Height - g.CropY) * sy), 0, g.InputSize);
            if (x1 <= x0 || y1 <= y0) continue;
            result.Add(new InputPart(p.Part, new PixelBox(x0, y0, x1 - x0, y1 - y0), false));
        }
        return result.ToArray();
    }

    internal static string NormalizePath(string path)
    {
        try { return Path.GetFullPath(path); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException) { return path; }
    }

    private static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var current = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { current.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else current.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(current.ToString()); current.Clear(); }
            else current.Append(c);
        }
        fields.Add(current.ToString());
        return fields;
    }

    private static ProtoPNetException Malformed(string path, int line, string what) =>
        new("PartsFileMalformed", ErrorKind.InvalidData, $"Parts file '{path}' is malformed at line {line}: {what}", path);
}
