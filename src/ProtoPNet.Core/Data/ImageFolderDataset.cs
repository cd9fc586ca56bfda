namespace ProtoPNet.Data;

/// <summary>
/// One sub-folder per class (class names sorted ordinally, files found recursively inside each). Files are recognized
/// by content, not by extension: every file is an image candidate, except hidden ones (names starting with '.').
/// When every class folder is numbered like CUB's (<c>001.Black_footed_Albatross</c>), the class names drop the number.
/// </summary>
public sealed class ImageFolderDataset : FileImageDataset
{
    private ImageFolderDataset(string root, IReadOnlyList<string> classNames, IReadOnlyList<DatasetItem> items,
        IReadOnlyList<SkippedFile> skipped, IReadOnlyList<string> warnings, long? cacheBudget)
        : base(Path.GetFileName(Path.TrimEndingDirectorySeparator(root)), "ImageFolder", root, "All", classNames, items, false, skipped, warnings, cacheBudget)
    {
    }

    public static ImageFolderDataset Open(string root, DatasetImportOptions? options = null)
    {
        options ??= new DatasetImportOptions();
        if (!Directory.Exists(root))
            throw new ProtoPNetException("DatasetNotFound", ErrorKind.ObjectNotFound, $"Data set folder '{root}' does not exist.", root);
        if (!string.Equals(options.Split, "All", StringComparison.OrdinalIgnoreCase))
            throw new ProtoPNetException("SplitNotAvailable", ErrorKind.InvalidArgument,
                $"An image folder has no official split; use -Split All (or Split-ProtoPNetDataset for a train/validation split).", root);
        if (options.CropToBoundingBox)
            throw new ProtoPNetException("NoBoundingBoxes", ErrorKind.InvalidArgument, "An image folder has no bounding boxes to crop to.", root);

        var classDirs = Directory.GetDirectories(root)
            .Where(d => !Path.GetFileName(d).StartsWith('.'))
            .OrderBy(d => Path.GetFileName(d), StringComparer.Ordinal).ToArray();
        if (classDirs.Length == 0)
            throw new ProtoPNetException("NoClassFolders", ErrorKind.InvalidData,
                $"'{root}' has no sub-folders: an image folder data set needs one sub-folder per class.", root);

        var folderNames = classDirs.Select(d => Path.GetFileName(d)!).ToArray();
        var stripped = folderNames.Select(Cub200Dataset.ReadableClassName).ToArray();
        bool numbered = folderNames.All(n => n != Cub200Dataset.ReadableClassName(n)) && stripped.Distinct(StringComparer.Ordinal).Count() == stripped.Length
                        && stripped.All(n => n.Length > 0);
        var classNames = numbered ? stripped : folderNames;
        var items = new List<DatasetItem>();
        var warnings = new List<string>();
        var filesPerClass = new int[classDirs.Length];
        var enumeration = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = System.IO.FileAttributes.Hidden, IgnoreInaccessible = true };
        for (int k = 0; k < classDirs.Length; k++)
        {
            options.Cancel.ThrowIfCancellationRequested();
            var files = Directory.EnumerateFiles(classDirs[k], "*", enumeration)
                .Where(f => !Path.GetFileName(f).StartsWith('.') && !Path.GetRelativePath(classDirs[k], f).Split(Path.DirectorySeparatorChar).Any(s => s.StartsWith('.')))
                .OrderBy(f => f, StringComparer.Ordinal);
            foreach (var f in files)
            {
                items.Add(new DatasetItem(f, k, Id: items.Count));
                filesPerClass[k]++;
            }
            if (filesPerClass[k] == 0) warnings.Add($"Class folder '{classDirs[k]}' is empty: class '{classNames[k]}' has no images.");
        }

        var skipped = new List<SkippedFile>();
        if (options.Probe || options.Verify)
        {
            (items, skipped) = CheckFiles(items, options.Verify, options.Cancel);
            var usable = new int[classDirs.Length];
            foreach (var item in items) usable[item.Label]++;
            for (int k = 0; k < classDirs.Length; k++)
                if (filesPerClass[k] > 0 && usable[k] == 0)
                    warnings.Add($"No file of class folder '{classDirs[k]}' is a readable image: class '{classNames[k]}' has no images.");
        }
        return new ImageFolderDataset(root, classNames, items, skipped, warnings, options.CacheBudgetBytes);
    }
}
