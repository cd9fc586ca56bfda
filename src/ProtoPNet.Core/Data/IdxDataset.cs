using System.Buffers.Binary;
using System.IO.Compression;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using ProtoPNet.Model;
using TorchSharp;
using ProtoPNet.Runtime;
using static TorchSharp.torch;

namespace ProtoPNet.Data;

/// <summary>
/// MNIST-style IDX files (idx3 unsigned-byte images with their idx1 labels, gzipped or not), held in memory as one
/// uint8 tensor [N, 1, H, W] (60,000 Fashion-MNIST images: 47 MB) and expanded to RGB floats per batch.
/// </summary>
/// <remarks>
/// Class names: <see cref="DatasetImportOptions.ClassNames"/> when given; otherwise Fashion-MNIST's ten names when a
/// file or folder name contains "fashion", or when the data are 28×28 with labels 0–9 and a mean intensity above 0.2
/// (Fashion-MNIST's is 0.29, MNIST's 0.13); otherwise the labels' digits "0", "1", ….
/// </remarks>
public sealed class IdxDataset : ImageDataset, IInMemoryDataset
{
    public static readonly string[] FashionMnistClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private readonly Tensor pixels; // uint8 [N, 1, H, W]
    private readonly int[] labels;
    private readonly string[] classNames;
    private readonly (string File, int Start)[] segments;

    private IdxDataset(string name, string split, Tensor pixels, int[] labels, string[] classNames, (string, int)[] segments)
    {
        Name = name;
        Split = split;
        this.pixels = pixels;
        this.labels = labels;
        this.classNames = classNames;
        this.segments = segments;
    }

    public override string Name { get; }
    public override string Format => "Idx";
    public override string Split { get; }
    public override IReadOnlyList<string> ClassNames => classNames;
    public override int Count => labels.Length;
    public int ImageHeight => (int)pixels.shape[2];
    public int ImageWidth => (int)pixels.shape[3];
    /// <summary>The raw pixels, uint8 [N, 1, H, W].</summary>
    public Tensor Pixels => pixels;
    public IReadOnlyList<string> Files => segments.Select(s => s.File).ToArray();

    public override int LabelOf(int index) => labels[index];

    /// <summary>"images-file#n": the item's position in its own file.</summary>
    public override string SourceOf(int index)
    {
        int s = segments.Length - 1;
        while (s > 0 && segments[s].Start > index) s--;
        return $"{segments[s].File}#{index - segments[s].Start}";
    }

    public override LoadedImage Load(int index, int size)
    {
        var batch = LoadBatch([index], size);
        using (batch)
            return new LoadedImage(batch.squeeze(0), ImageGeometry.Whole(ImageWidth, ImageHeight, size));
    }

    public bool IsInMemory => true;

    public Tensor LoadBatch(IReadOnlyList<int> indices, int size)
    {
        using var scope = NewDisposeScope();
        using var index = tensor(indices.Select(i => (long)i).ToArray());
        var batch = pixels.index_select(0, index).to(ScalarType.Float32).DivInPlace(255f);
        if (ImageHeight != size || ImageWidth != size)
            batch = nn.functional.interpolate(batch, [size, size], mode: InterpolationMode.Bilinear, align_corners: false);
        return batch.expand(-1, 3, -1, -1).contiguous().MoveToOuterDisposeScope();
    }

    public override (byte[] Rgb, ImageGeometry Geometry) LoadRgb(int index, int size)
    {
        using var image = LoadOriginal(index);
        if (size != ImageWidth || size != ImageHeight) image.Mutate(x => x.Resize(size, size, KnownResamplers.Triangle));
        return (ImageDecoder.ToBytes(image), ImageGeometry.Whole(ImageWidth, ImageHeight, size));
    }

    public override Image<Rgb24> LoadOriginal(int index)
    {
        byte[] grey;
        using (torch.NewDisposeScope()) grey = pixels[index].data<byte>().ToArray();
        var rgb = new byte[grey.Length * 3];
        for (int i = 0; i < grey.Length; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = grey[i];
        return Image.LoadPixelData<Rgb24>(rgb, ImageWidth, ImageHeight);
    }

    /// <summary>
    /// Opens an images file (its labels file found beside it, or <see cref="DatasetImportOptions.LabelsPath"/>) or a
    /// folder of IDX pairs (Split Train: files starting "train"; Test: "t10k" or "test"; All: every pair).
    /// </summary>
    public static IdxDataset Open(string path, DatasetImportOptions? options = null)
    {
        options ??= new DatasetImportOptions();
        string split = DatasetImporter.NormalizeSplit(options.Split);
        List<(string Images, string Labels)> pairs = [];
        string name;
        if (Directory.Exists(path))
        {
            name = Path.GetFileName(Path.TrimEndingDirectorySeparator(path));
            var images = Directory.GetFiles(path).Where(IsImagesFile).OrderBy(f => SplitRank(f)).ThenBy(f => f, StringComparer.Ordinal).ToList();
            var wanted = images.Where(f => split == "All" || SplitOf(f) == split).ToList();
            if (wanted.Count == 0)
                throw new ProtoPNetException("IdxFilesNotFound", ErrorKind.ObjectNotFound,
                    $"'{path}' holds no *-images-idx3-ubyte[.gz] file{(split == "All" ? "" : $" for the {split} split")}.", path);
            if (options.LabelsPath is not null && wanted.Count > 1)
                throw new ProtoPNetException("LabelsPathAmbiguous", ErrorKind.InvalidArgument,
                    $"-LabelsPath names one labels file but '{path}' holds {wanted.Count} images files; pass the images file itself.", path);
            pairs.AddRange(wanted.Select(f => (f, options.LabelsPath ?? PartnerOf(f))));
        }
        else if (File.Exists(path))
        {
            name = Path.GetFileName(path);
            pairs.Add((path, options.LabelsPath ?? PartnerOf(path)));
        }
        else throw new ProtoPNetException("DatasetNotFound", ErrorKind.ObjectNotFound, $"'{path}' does not exist.", path);

        var pixelParts = new List<byte[]>();
        var labelParts = new List<byte[]>();
        var segments = new List<(string, int)>();
        int height = 0, width = 0, count = 0;
        foreach (var (imagesFile, labelsFile) in pairs)
        {
            options.Cancel.ThrowIfCancellationRequested();
            var (pix, dims) = ReadIdx(imagesFile, 3);
            var (lab, labDims) = ReadIdx(labelsFile, 1);
            if (labDims[0] != dims[0])
                throw new ProtoPNetException("IdxCountMismatch", ErrorKind.InvalidData,
                    $"'{imagesFile}' holds {dims[0]} images but '{labelsFile}' holds {labDims[0]} labels.", labelsFile);
            if (count > 0 && (dims[1] != height || dims[2] != width))
                throw new ProtoPNetException("IdxSizeMismatch", ErrorKind.InvalidData,
                    $"'{imagesFile}' holds {dims[1]}×{dims[2]} images, the others {height}×{width}.", imagesFile);
            (height, width) = (dims[1], dims[2]);
            segments.Add((imagesFile, count));
            count += dims[0];
            pixelParts.Add(pix);
            labelParts.Add(lab);
        }

        var labels = labelParts.SelectMany(l => l).Select(b => (int)b).ToArray();
        var all = pixelParts.Count == 1 ? pixelParts[0] : pixelParts.SelectMany(p => p).ToArray();
        var tensorPixels = torch.tensor(all, [count, 1, height, width]);
        string[] classNames = ClassNamesFor(options.ClassNames, labels, path, pairs.Select(p => p.Images), all, height, width);
        return new IdxDataset(name, split, tensorPixels, labels, classNames, segments.ToArray());
    }

    private static string[] ClassNamesFor(IReadOnlyList<string>? given, int[] labels, string path, IEnumerable<string> files, byte[] pixels, int h, int w)
    {
        int classCount = labels.Length == 0 ? 0 : labels.Max() + 1;
        if (given is not null)
        {
            if (given.Count < classCount)
                throw new ProtoPNetException("ClassNameCountMismatch", ErrorKind.InvalidArgument,
                    $"{given.Count} class names were given but the labels go up to {classCount - 1}.", path);
            return given.ToArray();
        }
        bool fashionNamed = files.Append(path).Any(f => f.Contains("fashion", StringComparison.OrdinalIgnoreCase));
        if (classCount <= 10 && (fashionNamed || (h == 28 && w == 28 && MeanIntensity(pixels) > 0.2))) return FashionMnistClassNames.ToArray();
        return Enumerable.Range(0, Math.Max(classCount, 1)).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    private static double MeanIntensity(byte[] pixels)
    {
        int n = Math.Min(pixels.Length, 2000 * 784);
        long sum = 0;
        for (int i = 0; i < n; i++) sum += pixels[i];
        return n == 0 ? 0 : sum / (255.0 * n);
    }

    public static bool IsImagesFile(string file)
    {
        var n = Path.GetFileName(file);
        return n.Contains("images", StringComparison.OrdinalIgnoreCase) && n.Contains("idx3", StringComparison.OrdinalIgnoreCase);
    }

    private static string SplitOf(string file)
    {
        var n = Path.GetFileName(file);
        return n.StartsWith("train", StringComparison.OrdinalIgnoreCase) ? "Train"
            : n.StartsWith("t10k", StringComparison.OrdinalIgnoreCase) || n.StartsWith("test", StringComparison.OrdinalIgnoreCase) ? "Test" : "Other";
    }

    private static int SplitRank(string file) => SplitOf(file) switch { "Train" => 0, "Test" => 1, _ => 2 };

    /// <summary>train-images-idx3-ubyte.gz → train-labels-idx1-ubyte.gz (also without .gz, and the "images.idx3" spelling).</summary>
    public static string PartnerOf(string imagesFile)
    {
        var dir = Path.GetDirectoryName(imagesFile) ?? ".";
        var n = Path.GetFileName(imagesFile);
        var stem = n.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? n[..^3] : n;
        var labelsStem = stem.Replace("images", "labels").Replace("idx3", "idx1").Replace("IMAGES", "LABELS");
        foreach (var candidate in new[] { labelsStem + ".gz", labelsStem })
        {
            var p = Path.Combine(dir, candidate);
            if (File.Exists(p)) return p;
        }
        throw new ProtoPNetException("IdxLabelsNotFound", ErrorKind.ObjectNotFound,
            $"No labels file beside '{imagesFile}' (looked for '{labelsStem}[.gz]'); pass -LabelsPath.", imagesFile);
    }

    /// <summary>Reads an unsigned-byte IDX file with <paramref name="rank"/> dimensions: its data and dimensions.</summary>
    public static (byte[] Data, int[] Dimensions) ReadIdx(string path, int rank)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            Span<byte> magic = stackalloc byte[2];
            file.ReadExactly(magic);
            file.Position = 0;
            Stream stream = magic[0] == 0x1f && magic[1] == 0x8b ? new GZipStream(file, CompressionMode.Decompress) : file;
            using (stream)
            {
                Span<byte> header = stackalloc byte[4];
                stream.ReadExactly(header);
                if (header[0] != 0 || header[1] != 0)
                    throw Invalid(path, "it does not start with an IDX magic number.");
                if (header[2] != 0x08)
                    throw Invalid(path, $"its data type is 0x{header[2]:x2}; only unsigned bytes (0x08) are supported.");
                if (header[3] != rank)
                    throw Invalid(path, $"it has {header[3]} dimensions, expected {rank} ({(rank == 3 ? "images" : "labels")}).");
                var dims = new int[rank];
                long total = 1;
                Span<byte> word = stackalloc byte[4];
                for (int d = 0; d < rank; d++)
                {
                    stream.ReadExactly(word);
                    dims[d] = BinaryPrimitives.ReadInt32BigEndian(word);
                    if (dims[d] < 0) throw Invalid(path, "a dimension is negative.");
                    total *= dims[d];
                }
                if (total > int.MaxValue) throw Invalid(path, "it is larger than 2 GB.");
                var data = GC.AllocateUninitializedArray<byte>((int)total);
                stream.ReadExactly(data);
                return (data, dims);
            }
        }
        catch (ProtoPNetException) { throw; }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ProtoPNetException("IdxFileNotFound", ErrorKind.ObjectNotFound, $"IDX file '{path}' does not exist.", path, e);
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException)
        {
            throw Invalid(path, $"it is truncated or corrupt ({e.Message}).");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ProtoPNetException("IdxFileUnreadable", ErrorKind.ReadError, $"Cannot read IDX file '{path}': {e.Message}", path, e);
        }
    }

    private static ProtoPNetException Invalid(string path, string what) =>
        new("IdxFileInvalid", ErrorKind.InvalidData, $"'{path}' is not a valid IDX file: {what}", path);
}
