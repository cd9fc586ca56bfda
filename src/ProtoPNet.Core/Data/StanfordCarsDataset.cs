using System.Globalization;
using SixLabors.ImageSharp;

namespace ProtoPNet.Data;

/// <summary>
/// Stanford Cars (196 classes, 8,144 train / 8,041 test) in one of two layouts:
/// <list type="bullet">
/// <item>the devkit: <c>cars_meta.mat</c> (class_names), <c>cars_train_annos.mat</c>, <c>cars_test_annos_withlabels.mat</c>
/// (struct arrays <c>annotations</c> with bbox_x1, bbox_y1, bbox_x2, bbox_y2, class, fname), found in the folder or its
/// <c>devkit/</c> sub-folder, images in <c>cars_train/</c> and <c>cars_test/</c> (or one level deeper, as some copies nest them);</item>
/// <item>the CSV variant: <c>names.csv</c> (one class name a line), <c>anno_train.csv</c> and <c>anno_test.csv</c>
/// (<c>fname,x1,y1,x2,y2,class</c>, no header); each image is looked up by file name under the folder's
/// train or test sub-tree (any folder whose name contains "train" or "test").</item>
/// </list>
/// Boxes are 1-based inclusive pixel coordinates, as in the devkit; classes are 1-based.
/// </summary>
public sealed class StanfordCarsDataset : FileImageDataset
{
    private StanfordCarsDataset(string root, string split, IReadOnlyList<string> classNames, IReadOnlyList<DatasetItem> items, bool crop,
        IReadOnlyList<SkippedFile> skipped, long? cacheBudget)
        : base("StanfordCars", "StanfordCars", root, split, classNames, items, crop, skipped, [], cacheBudget)
    {
    }

    /// <summary>True when <paramref name="path"/> looks like either Stanford Cars layout.</summary>
    public static bool Looks(string path) =>
        FindFile(path, "cars_meta.mat") is not null || (File.Exists(Path.Combine(path, "names.csv")) &&
            (File.Exists(Path.Combine(path, "anno_train.csv")) || File.Exists(Path.Combine(path, "anno_test.csv"))));

    public static StanfordCarsDataset Open(string root, DatasetImportOptions? options = null)
    {
        options ??= new DatasetImportOptions();
        if (!Directory.Exists(root))
            throw new ProtoPNetException("DatasetNotFound", ErrorKind.ObjectNotFound, $"Data set folder '{root}' does not exist.", root);
        string split = DatasetImporter.NormalizeSplit(options.Split);
        bool csv = FindFile(root, "cars_meta.mat") is null && File.Exists(Path.Combine(root, "names.csv"));
        var splits = split == "All" ? new[] { "Train", "Test" } : [split];

        List<string> classNames;
        var items = new List<DatasetItem>();
        if (csv)
        {
            classNames = File.ReadAllLines(Path.Combine(root, "names.csv")).Where(l => l.Trim().Length > 0).Select(l => l.Trim().Trim('"')).ToList();
            foreach (var s in splits)
            {
                var file = s == "Train" ? "anno_train.csv" : "anno_test.csv";
                var full = Path.Combine(root, file);
                if (!File.Exists(full)) throw Missing(file, root);
                var index = FileIndex(root, s == "Train" ? "train" : "test");
                int line = 0;
                foreach (var text in File.ReadLines(full))
                {
                    line++;
                    if (text.Trim().Length == 0) continue;
                    var f = text.Split(',').Select(x => x.Trim().Trim('"')).ToArray();
                    if (!int.TryParse(f.Length >= 6 ? f[5] : "", CultureInfo.InvariantCulture, out int cls))
                    {
                        if (line == 1) continue; // a header line
                        throw Invalid(full, $"line {line}: expected fname,x1,y1,x2,y2,class.");
                    }
                    var box = ParseBox(f[1], f[2], f[3], f[4], full, line);
                    if (cls < 1 || cls > classNames.Count) throw Invalid(full, $"line {line}: class {cls} is outside 1..{classNames.Count}.");
                    var name = Path.GetFileName(f[0]);
                    var path = index.GetValueOrDefault(name) ?? Path.Combine(root, s == "Train" ? "cars_train" : "cars_test", name);
                    items.Add(new DatasetItem(path, cls - 1, box, Id: items.Count));
                }
            }
        }
        else
        {
            var metaPath = FindFile(root, "cars_meta.mat") ?? throw Missing("cars_meta.mat", root);
            var meta = MatFile.Read(metaPath);
            if (!meta.TryGetValue("class_names", out var namesValue) || namesValue is not MatCell names)
                throw Invalid(metaPath, "it holds no 'class_names' cell array.");
            classNames = names.Elements.Select(e => e is MatChar c ? c.Text.Trim() : "").ToList();
            foreach (var s in splits)
            {
                var file = s == "Train" ? "cars_train_annos.mat" : "cars_test_annos_withlabels.mat";
                var annos = FindFile(root, file) ?? throw Missing(file, root);
                var imageDir = ImageFolder(root, s == "Train" ? "cars_train" : "cars_test");
                var content = MatFile.Read(annos);
                if (!content.TryGetValue("annotations", out var value) || value is not MatStruct table)
                    throw Invalid(annos, "it holds no 'annotations' struct array.");
                foreach (var field in new[] { "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname" })
                    if (!table.FieldNames.Contains(field)) throw Invalid(annos, $"the annotations have no '{field}' field.");
                for (int i = 0; i < table.Elements.Length; i++)
                {
                    var e = table.Elements[i];
                    double Num(string f) => e[f] is MatNumeric n && n.Values.Length > 0 ? n.Values[0] : throw Invalid(annos, $"annotation {i + 1}: '{f}' is not a number.");
                    int cls = (int)Num("class");
                    if (cls < 1 || cls > classNames.Count) throw Invalid(annos, $"annotation {i + 1}: class {cls} is outside 1..{classNames.Count}.");
                    var name = e["fname"] is MatChar c ? c.Text.Trim() : throw Invalid(annos, $"annotation {i + 1}: 'fname' is not text.");
                    var box = BoxFrom(Num("bbox_x1"), Num("bbox_y1"), Num("bbox_x2"), Num("bbox_y2"));
                    items.Add(new DatasetItem(Path.Combine(imageDir, name), cls - 1, box, Id: items.Count));
                }
            }
        }

        var skipped = new List<SkippedFile>();
        if (options.Probe || options.Verify) (items, skipped) = CheckFiles(items, options.Verify, options.Cancel);
        return new StanfordCarsDataset(root, split, classNames, items, options.CropToBoundingBox, skipped, options.CacheBudgetBytes);
    }

    /// <summary>Devkit boxes are 1-based and inclusive: (x1, y1, x2, y2) covers pixels x1-1 … x2-1.</summary>
    public static Rectangle BoxFrom(double x1, double y1, double x2, double y2)
    {
        int left = (int)x1 - 1, top = (int)y1 - 1;
        return new Rectangle(left, top, (int)x2 - left, (int)y2 - top);
    }

    private static Rectangle ParseBox(string x1, string y1, string x2, string y2, string file, int line)
    {
        static bool P(string s, out double v) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out v);
        if (!P(x1, out var a) || !P(y1, out var b) || !P(x2, out var c) || !P(y2, out var d))
            throw Invalid(file, $"line {line}: the box is not four numbers.");
        return BoxFrom(a, b, c, d);
    }

    private static string? FindFile(string root, string name)
    {
        foreach (var dir in new[] { root, Path.Combine(root, "devkit"), Path.Combine(root, "car_devkit", "devkit") })
        {
            var p = Path.Combine(dir, name);
            if (File.Exists(p)) return p;
        }
        return null;
    }

    private static string ImageFolder(string root, string name)
    {
        var dir = Path.Combine(root, name);
        var nested = Path.Combine(dir, name);
        return Directory.Exists(nested) ? nested : dir;
    }

    /// <summary>File name → path for every file under a sub-folder of <paramref name="root"/> whose name contains <paramref name="splitWord"/>.</summary>
    private static Dictionary<string, string> FileIndex(string root, string splitWord)
    {
        var index = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var dir in Directory.EnumerateDirectories(root, "*", SearchOption.AllDirectories)
                     .Where(d => Path.GetFileName(d).Contains(splitWord, StringComparison.OrdinalIgnoreCase)).OrderBy(d => d, StringComparer.Ordinal))
            foreach (var f in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories))
                index.TryAdd(Path.GetFileName(f), f);
        return index;
    }

    private static ProtoPNetException Missing(string file, string root) =>
        new("DatasetMetadataMissing", ErrorKind.ObjectNotFound, $"Stanford Cars metadata file '{file}' is missing from '{root}' (and its devkit/ folder).", Path.Combine(root, file));

    private static ProtoPNetException Invalid(string file, string what) =>
        new("DatasetMetadataInvalid", ErrorKind.InvalidData, $"Stanford Cars metadata file '{file}' is invalid: {what}", file);
}
