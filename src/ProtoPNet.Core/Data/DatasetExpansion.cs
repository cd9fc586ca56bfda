using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;

namespace ProtoPNet.Data;

/// <summary>Progress of an expansion: one per source item, after its copies are written.</summary>
public sealed record ExpansionStep(int Done, int Total, string Source, IReadOnlyList<string> Written, ProtoPNetException? Error);

/// <summary>
/// The authors' offline augmentation: <c>copies</c> augmented copies of every item of a data set written into an
/// ImageFolder tree (<c>destination/NNN.ClassName/stem_augKK.ext</c>). Copy k uses transform k mod 3
/// (rotate, skew, shear: 10 of each for 30 copies), each followed by the random flip. Deterministic for a seed: item i's
/// copies draw from a Random seeded by (seed, i) alone, whatever else runs.
/// </summary>
/// <remarks>
/// Class folders carry the class's 1-based number (<c>001.Black_footed_Albatross</c>, as CUB names them) so that the
/// tree sorts in the source's class order; <see cref="ImageFolderDataset"/> drops that prefix again. Characters that
/// cannot be in a file name (e.g. '/' in "T-shirt/top") become '_'. Files are written complete or not at all.
/// </remarks>
public static class DatasetExpansion
{
    public static IEnumerable<ExpansionStep> Expand(ImageDataset source, string destination, int copies, int seed,
        ImageAugmentation? augmentation = null, string? imageFormat = null, bool includeOriginal = false, CancellationToken cancel = default)
    {
        augmentation ??= ImageAugmentation.Authors;
        if (copies < 0)
            throw new ProtoPNetException("InvalidCopies", ErrorKind.InvalidArgument, $"-Copies must be 0 or more; got {copies}.", copies);
        string format = (imageFormat ?? (source.Format is "Idx" or "Tensor" ? "Png" : "Jpeg")).ToLowerInvariant() switch
        {
            "png" => "png",
            "jpeg" or "jpg" => "jpg",
            var f => throw new ProtoPNetException("UnknownImageFormat", ErrorKind.InvalidArgument, $"Unknown output format '{f}': use Png or Jpeg.", f),
        };
        var classDirs = ClassFolderNames(source.ClassNames).Select(n => Path.Combine(destination, n)).ToArray();
        foreach (var dir in classDirs) Directory.CreateDirectory(dir);
        var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < source.Count; i++)
        {
            cancel.ThrowIfCancellationRequested();
            var written = new List<string>();
            ProtoPNetException? error = null;
            string sourceName = source.SourceOf(i);
            try
            {
                using var original = source.LoadOriginal(i);
                string stem = Stem(sourceName, i);
                string dir = classDirs[source.LabelOf(i)];
                if (!used.Add(Path.Combine(dir, stem))) stem = $"{stem}_{i}";
                if (includeOriginal) written.Add(Save(original, Path.Combine(dir, $"{stem}.{format}"), format));
                var random = new Random(MixSeed(seed, i));
                for (int k = 0; k < copies; k++)
                {
                    using var copy = original.Clone();
                    augmentation.Apply(copy, (AugmentationKind)(k % 3), random);
                    written.Add(Save(copy, Path.Combine(dir, $"{stem}_aug{k:D2}.{format}"), format));
                }
            }
            catch (ProtoPNetException e)
            {
                error = e;
            }
            yield return new ExpansionStep(i + 1, source.Count, sourceName, written, error);
        }
    }

    /// <summary>"NNN.Name" for each class, numbered from 1 with at least three digits, file-name-safe.</summary>
    public static string[] ClassFolderNames(IReadOnlyList<string> classNames)
    {
        int digits = Math.Max(3, classNames.Count.ToString(System.Globalization.CultureInfo.InvariantCulture).Length);
        var invalid = Path.GetInvalidFileNameChars().Append('/').Append('\\').ToHashSet();
        return classNames.Select((n, k) =>
        {
            var safe = new string(n.Select(ch => invalid.Contains(ch) ? '_' : ch).ToArray()).Trim();
            return $"{(k + 1).ToString().PadLeft(digits, '0')}.{(safe.Length == 0 ? "class" : safe)}";
        }).ToArray();
    }

    private static string Stem(string source, int index)
    {
        // IDX items are "file#n": name them by their position.
        int hash = source.LastIndexOf('#');
        if (hash >= 0 && int.TryParse(source[(hash + 1)..], out int n)) return $"item{n:D6}";
        var stem = Path.GetFileNameWithoutExtension(source);
        return stem.Length > 0 ? stem : $"item{index:D6}";
    }

    private static int MixSeed(int seed, int index)
    {
        // SplitMix64 finalizer: neighbouring items get unrelated streams.
        ulong z = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL + (ulong)index + 1;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)((z ^ (z >> 31)) & 0x7FFFFFFF);
    }

    private static string Save(Image image, string path, string format)
    {
        string temp = path + ".partial";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write))
            {
                if (format == "png") image.Save(stream, new PngEncoder());
                else image.Save(stream, new JpegEncoder { Quality = 95 });
            }
            File.Move(temp, path, overwrite: true);
            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(temp); } catch (IOException) { }
            throw new ProtoPNetException("ImageWriteFailed", ErrorKind.WriteError, $"Cannot write '{path}': {e.Message}", path, e);
        }
    }
}
