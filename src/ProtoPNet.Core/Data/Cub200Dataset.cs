using System.Globalization;
using System.Text.RegularExpressions;
using SixLabors.ImageSharp;

namespace ProtoPNet.Data;

/// <summary>
/// CUB-200-2011 as distributed: <c>images.txt</c>, <c>image_class_labels.txt</c>, <c>classes.txt</c>,
/// <c>train_test_split.txt</c>, <c>bounding_boxes.txt</c> and <c>images/</c>; <c>parts/parts.txt</c> and
/// <c>parts/part_locs.txt</c> are read when present. The path may be the <c>CUB_200_2011</c> folder or its parent.
/// Class names lose their number prefix (<c>001.Black_footed_Albatross</c> → <c>Black_footed_Albatross</c>).
/// </summary>
public sealed partial class Cub200Dataset : FileImageDataset
{
    /// <summary>Files that must be there; bounding_boxes.txt is needed as well when cropping.</summary>
    public static readonly string[] RequiredFiles = ["images.txt", "image_class_labels.txt", "classes.txt", "train_test_split.txt"];

    private Cub200Dataset(string root, string split, IReadOnlyList<string> classNames, IReadOnlyList<DatasetItem> items, bool crop,
        IReadOnlyList<SkippedFile> skipped, long? cacheBudget)
        : base("CUB_200_2011", "Cub200", root, split, classNames, items, crop, skipped, [], cacheBudget)
    {
    }

    /// <summary>The folder holding images.txt: <paramref name="path"/> itself or its CUB_200_2011 sub-folder; null when neither.</summary>
    public static string? FindRoot(string path)
    {
        if (File.Exists(Path.Combine(path, "images.txt")) && File.Exists(Path.Combine(path, "classes.txt"))) return path;
        var nested = Path.Combine(path, "CUB_200_2011");
        return Directory.Exists(nested) && File.Exists(Path.Combine(nested, "images.txt")) ? nested : null;
    }

    public static Cub200Dataset Open(string path, DatasetImportOptions? options = null)
    {
        options ??= new DatasetImportOptions();
        if (!Directory.Exists(path))
            throw new ProtoPNetException("DatasetNotFound", ErrorKind.ObjectNotFound, $"Data set folder '{path}' does not exist.", path);
        string root = FindRoot(path) ?? (Directory.Exists(Path.Combine(path, "CUB_200_2011")) ? Path.Combine(path, "CUB_200_2011") : path);
        var required = options.CropToBoundingBox ? [.. RequiredFiles, "bounding_boxes.txt"] : RequiredFiles;
        foreach (var file in required)
        {
            var full = Path.Combine(root, file);
            if (!File.Exists(full))
                throw new ProtoPNetException("DatasetMetadataMissing", ErrorKind.ObjectNotFound,
                    $"CUB-200-2011 metadata file '{file}' is missing from '{root}'.", full);
        }
        string split = DatasetImporter.NormalizeSplit(options.Split);

        var classes = ReadTable(root, "classes.txt", 2);
        var classIds = new Dictionary<int, int>();
        var classNames = new List<string>();
        foreach (var row in classes.OrderBy(r => ParseInt(r, 0, root, "classes.txt")))
        {
            classIds[ParseInt(row, 0, root, "classes.txt")] = classNames.Count;
            classNames.Add(ReadableClassName(row[1]));
        }

        var images = ReadTable(root, "images.txt", 2).ToDictionary(r => ParseInt(r, 0, root, "images.txt"), r => r[1]);
        var labels = ReadTable(root, "image_class_labels.txt", 2).ToDictionary(r => ParseInt(r, 0, root, "image_class_labels.txt"), r => ParseInt(r, 1, root, "image_class_labels.txt"));
        var isTrain = ReadTable(root, "train_test_split.txt", 2).ToDictionary(r => ParseInt(r, 0, root, "train_test_split.txt"), r => ParseInt(r, 1, root, "train_test_split.txt") == 1);
        Dictionary<int, Rectangle>? boxes = null;
        if (File.Exists(Path.Combine(root, "bounding_boxes.txt")))
            boxes = ReadTable(root, "bounding_boxes.txt", 5).ToDictionary(r => ParseInt(r, 0, root, "bounding_boxes.txt"), r =>
            {
                double x = ParseDouble(r, 1, root), y = ParseDouble(r, 2, root), w = ParseDouble(r, 3, root), h = ParseDouble(r, 4, root);
                // The authors crop with PIL's img.crop((x, y, x + w, y + h)) after int(): the same integer box.
                return new Rectangle((int)x, (int)y, (int)w, (int)h);
            });
        var parts = ReadParts(root);

        var items = new List<DatasetItem>();
        foreach (var (id, relative) in images.OrderBy(p => p.Key))
        {
            options.Cancel.ThrowIfCancellationRequested();
            if (!labels.TryGetValue(id, out int classId) || !classIds.TryGetValue(classId, out int label))
                throw Corrupt(root, "image_class_labels.txt", $"image {id} has no class or an unknown class.");
            if (!isTrain.TryGetValue(id, out bool train))
                throw Corrupt(root, "train_test_split.txt", $"image {id} is in neither split.");
            if ((split == "Train" && !train) || (split == "Test" && train)) continue;
            Rectangle? box = null;
            if (boxes is not null)
            {
                if (!boxes.TryGetValue(id, out var b)) throw Corrupt(root, "bounding_boxes.txt", $"image {id} has no box.");
                box = b;
            }
            var file = Path.Combine(root, "images", relative.Replace('/', Path.DirectorySeparatorChar));
            items.Add(new DatasetItem(file, label, box, parts?.GetValueOrDefault(id), id));
        }

        var skipped = new List<SkippedFile>();
        if (options.Probe || options.Verify) (items, skipped) = CheckFiles(items, options.Verify, options.Cancel);
        return new Cub200Dataset(root, split, classNames, items, options.CropToBoundingBox, skipped, options.CacheBudgetBytes);
    }

    /// <summary><c>001.Black_footed_Albatross</c> → <c>Black_footed_Albatross</c>.</summary>
    public static string ReadableClassName(string raw) => NumberPrefix().Replace(raw, "");

    [GeneratedRegex(@"^\d+\.")]
    private static partial Regex NumberPrefix();

    private static Dictionary<int, List<PartLocation>>? ReadParts(string root)
    {
        var locs = Path.Combine(root, "parts", "part_locs.txt");
        if (!File.Exists(locs)) return null;
        var names = new Dictionary<int, string>();
        var namesFile = Path.Combine(root, "parts", "parts.txt");
        if (File.Exists(namesFile))
            foreach (var line in File.ReadLines(namesFile))
            {
                var t = line.Trim();
                int space = t.IndexOf(' ');
                if (space > 0 && int.TryParse(t[..space], out int pid)) names[pid] = t[(space + 1)..].Trim();
            }
        var result = new Dictionary<int, List<PartLocation>>();
        foreach (var row in ReadTable(root, Path.Combine("parts", "part_locs.txt"), 5))
        {
            int image = ParseInt(row, 0, root, "parts/part_locs.txt"), part = ParseInt(row, 1, root, "parts/part_locs.txt");
            var loc = new PartLocation(part, names.GetValueOrDefault(part, part.ToString(CultureInfo.InvariantCulture)),
                ParseDouble(row, 2, root), ParseDouble(row, 3, root), ParseInt(row, 4, root, "parts/part_locs.txt") == 1);
            if (!result.TryGetValue(image, out var list)) result[image] = list = new List<PartLocation>(15);
            list.Add(loc);
        }
        return result;
    }

    private static IEnumerable<string[]> ReadTable(string root, string file, int columns)
    {
        int lineNumber = 0;
        foreach (var line in File.ReadLines(Path.Combine(root, file)))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            // images.txt paths and classes.txt names hold no spaces; split on the first columns-1 spaces only.
            var parts = line.Trim().Split(' ', columns, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length < columns) throw Corrupt(root, file, $"line {lineNumber} has {parts.Length} fields, expected {columns}.");
            yield return parts;
        }
    }

    private static int ParseInt(string[] row, int column, string root, string file) =>
        int.TryParse(row[column], NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v
            : throw Corrupt(root, file, $"'{row[column]}' is not an integer.");

    private static double ParseDouble(string[] row, int column, string root) =>
        double.TryParse(row[column], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v
            : throw Corrupt(root, "bounding_boxes.txt or parts/part_locs.txt", $"'{row[column]}' is not a number.");

    private static ProtoPNetException Corrupt(string root, string file, string what) =>
        new("DatasetMetadataInvalid", ErrorKind.InvalidData, $"CUB-200-2011 metadata file '{file}' in '{root}' is invalid: {what}", Path.Combine(root, file));
}
