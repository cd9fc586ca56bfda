namespace ProtoPNet.Data;

/// <summary>The formats <see cref="DatasetImporter.Open"/> reads.</summary>
public enum DatasetFormat
{
    /// <summary>Decide from the folder's content: CUB metadata, Cars devkit/CSV, IDX files, else ImageFolder.</summary>
    Auto,
    ImageFolder,
    Cub200,
    StanfordCars,
    Idx,
}

/// <summary>Opens a data set in any supported format.</summary>
public static class DatasetImporter
{
    public static ImageDataset Open(string path, DatasetFormat format, DatasetImportOptions? options = null)
    {
        options ??= new DatasetImportOptions();
        if (format == DatasetFormat.Auto) format = Detect(path);
        if (options.LabelsPath is not null && format != DatasetFormat.Idx)
            throw new ProtoPNetException("LabelsPathNotApplicable", ErrorKind.InvalidArgument, "-LabelsPath applies to IDX files only.", path);
        if (options.ClassNames is not null && format != DatasetFormat.Idx)
            throw new ProtoPNetException("ClassNameNotApplicable", ErrorKind.InvalidArgument,
                "-ClassName applies to IDX files only; the other formats carry their class names.", path);
        if (options.CropToBoundingBox && format is DatasetFormat.Idx or DatasetFormat.ImageFolder)
            throw new ProtoPNetException("NoBoundingBoxes", ErrorKind.InvalidArgument, $"{format} data have no bounding boxes to crop to.", path);
        return format switch
        {
            DatasetFormat.Cub200 => Cub200Dataset.Open(path, options),
            DatasetFormat.StanfordCars => StanfordCarsDataset.Open(path, options),
            DatasetFormat.Idx => IdxDataset.Open(path, options),
            _ => ImageFolderDataset.Open(path, options),
        };
    }

    /// <summary>
    /// Cub200 when images.txt and classes.txt are there (or in CUB_200_2011/); StanfordCars when cars_meta.mat is there
    /// (or in devkit/), or names.csv with anno_train/anno_test.csv; Idx for an idx3 file or a folder holding one and no
    /// sub-folders; ImageFolder otherwise.
    /// </summary>
    public static DatasetFormat Detect(string path)
    {
        if (File.Exists(path)) return DatasetFormat.Idx;
        if (!Directory.Exists(path))
            throw new ProtoPNetException("DatasetNotFound", ErrorKind.ObjectNotFound, $"Data set folder '{path}' does not exist.", path);
        if (Cub200Dataset.FindRoot(path) is not null) return DatasetFormat.Cub200;
        if (StanfordCarsDataset.Looks(path)) return DatasetFormat.StanfordCars;
        if (Directory.GetFiles(path).Any(IdxDataset.IsImagesFile) && Directory.GetDirectories(path).Length == 0) return DatasetFormat.Idx;
        return DatasetFormat.ImageFolder;
    }

    /// <summary>Train, Test or All, whatever the case of the input.</summary>
    public static string NormalizeSplit(string split) => split.ToLowerInvariant() switch
    {
        "train" => "Train",
        "test" => "Test",
        "all" or "" => "All",
        _ => throw new ProtoPNetException("UnknownSplit", ErrorKind.InvalidArgument, $"Unknown split '{split}': use Train, Test or All.", split),
    };
}
