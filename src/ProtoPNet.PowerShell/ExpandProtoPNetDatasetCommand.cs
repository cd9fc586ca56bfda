using System.Management.Automation;
using ProtoPNet.Data;

namespace ProtoPNet.PowerShell;

/// <summary>
/// The authors' offline augmentation: writes -Copies augmented copies of every image of a data set (cropped as the data
/// set says) into an image-folder tree under -Destination (rotate ±15°, skew 0.2, shear ±10°, a third of the copies
/// each, every one then flipped left-right with p = 0.5), deterministic for -Seed, and returns that tree as a data set.
/// The source is only read. Unreadable images are reported as non-terminating errors and skipped.
/// </summary>
[Cmdlet(VerbsData.Expand, "ProtoPNetDataset", SupportsShouldProcess = true)]
[OutputType(typeof(ImageFolderDataset))]
public sealed class ExpandProtoPNetDatasetCommand : ProtoPNetCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public ImageDataset Dataset { get; set; } = null!;

    [Parameter(Mandatory = true, Position = 0)]
    public string Destination { get; set; } = "";

    [Parameter] [ValidateRange(0, 1000)] public int Copies { get; set; } = 30;

    [Parameter] public int Seed { get; set; } = 1;

    /// <summary>Png or Jpeg (quality 95); default Png for IDX and in-memory data, Jpeg for image files.</summary>
    [Parameter] [ValidateSet("Png", "Jpeg")] public string? ImageFormat { get; set; }

    /// <summary>Also write each image unaugmented (the authors' expanded set holds only the copies).</summary>
    [Parameter] public SwitchParameter IncludeOriginal { get; set; }

    /// <summary>Write into a destination that already holds files (same-named files are replaced).</summary>
    [Parameter] public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        string destination = ResolveNewPath(Destination);
        if (Dataset is FileImageDataset files && IsInside(destination, files.Root))
            ThrowTerminating("DestinationInsideSource", ErrorKind.InvalidArgument,
                $"The destination '{destination}' is inside the source data set '{files.Root}'; the source is never written to.", destination);
        if (File.Exists(destination))
            ThrowTerminating("DestinationIsFile", ErrorKind.InvalidArgument, $"The destination '{destination}' is a file.", destination);
        if (Directory.Exists(destination) && Directory.EnumerateFileSystemEntries(destination).Any() && !Force)
            ThrowTerminating("DestinationNotEmpty", ErrorKind.InvalidOperation,
                $"The destination '{destination}' is not empty; use -Force to write into it anyway.", destination);
        if (!ShouldProcess(destination, $"Write {Copies} augmented copies of each of {Dataset.Count} images")) return;

        var progress = new ProgressReporter(this, $"Expanding {Dataset.Name}");
        int written = 0, failed = 0;
        Run(() =>
        {
            foreach (var step in DatasetExpansion.Expand(Dataset, destination, Copies, Seed, ImageAugmentation.Authors, ImageFormat, IncludeOriginal, Cancel))
            {
                written += step.Written.Count;
                if (step.Error is not null)
                {
                    failed++;
                    WriteError(step.Error);
                }
                progress.Report($"{step.Done} of {step.Total} images, {written} files written", step.Done, step.Total, force: step.Done == step.Total);
            }
        });
        progress.Complete();
        WriteVerbose($"Wrote {written} images to '{destination}'; {failed} source image(s) could not be read.");
        WriteObject(Run(() => ImageFolderDataset.Open(destination, new DatasetImportOptions { Probe = false, Cancel = Cancel })));
    }

    private static bool IsInside(string path, string root)
    {
        var full = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(path)) + System.IO.Path.DirectorySeparatorChar;
        var parent = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(root)) + System.IO.Path.DirectorySeparatorChar;
        return full.StartsWith(parent, StringComparison.Ordinal);
    }
}
