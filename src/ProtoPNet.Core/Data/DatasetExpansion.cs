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
/// copies draw from a Random seeded by (seed, i) alone, whatever else runs, so the files do not depend on how many
/// threads write them.
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
        // Output names are fixed up front, in item order, so that name clashes resolve the same way on every run.
        var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var targets = new (string Dir, string Stem)[source.Count];
        for (int i = 0; i < source.Count; i++)
        {
            string dir = classDirs[source.LabelOf(i)], stem = Stem(source.SourceOf(i), i);
            if (!used.Add(Path.Combine(dir, stem))) stem = $"{stem}_{i}";
            targets[i] = (dir, stem);
        }

        // Items are expanded on worker threads (each from its own seeded Random, so the files do not depend on the
        // schedule); the caller's thread receives one step per item, in completion order, for progress and errors.
        using var steps = new System.Collections.Concurrent.BlockingCollection<ExpansionStep>(boundedCapacity: 64);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        int done = 0;
        var workers = Task.Run(() =>
        {
            try
            {
                Parallel.For(0, source.Count, new ParallelOptions { CancellationToken = stop.Token, MaxDegreeOfParallelism = MaxWorkers }, i =>
                {
                    var written = new List<string>();
                    ProtoPNetException? error = null;
                    try
                    {
                        using var original = source.LoadOriginal(i);
                        var (dir, stem) = targets[i];
                        if (includeOriginal) written.Add(Save(original, Path.Combine(dir, $"{stem}.{format}"), format));
                        var random = new Random(MixSeed(seed, i));
                        for (int k = 0; k < copies; k++)
                        {
                            stop.Token.ThrowIfCancellationRequested();
                            using var copy = original.Clone();
                            augmentation.Apply(copy, (AugmentationKind)(k % 3), random);
                            written.Add(Save(copy, Path.Combine(dir, $"{stem}_aug{k:D2}.{format}"), format));
                        }
                    }
                    catch (ProtoPNetException e)
                    {
                        error = e;
                    }
                    steps.Add(new ExpansionStep(Interlocked.Increment(ref done), source.Count, source.SourceOf(i), written, error), stop.Token);
                });
            }
            finally
            {
                steps.CompleteAdding();
            }
        });
        try
        {
            foreach (var step in steps.GetConsumingEnumerable(cancel)) yield return step;
            workers.GetAwaiter().GetResult(); // surfaces a worker's unexpected failure or cancellation
        }
        finally
        {
            stop.Cancel();
            try { workers.Wait(); } catch (AggregateException) { }
        }
    }

    /// <summary>Threads that expand images at once (default: all cores).</summary>
    public static int MaxWorkers { get; set; } = Environment.ProcessorCount;

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
