using System.Management.Automation;
using ProtoPNet.Data;

namespace ProtoPNet.PowerShell;

/// <summary>
/// Reads a data set: an image folder (one sub-folder per class), CUB-200-2011 or Stanford Cars as distributed, or
/// MNIST-style IDX files. Without -Format the format is detected from the content; anything else is an image folder.
/// Every image's header is read at import (no pixels decoded): files that are not readable images are reported as
/// non-terminating errors with their error id (EmptyImageFile, UnsupportedImageFormat, ImageTooLarge, ImageDecodeFailed)
/// and left out; the rest of the data set is used and SkippedCount says how many were left out.
/// </summary>
[Cmdlet(VerbsData.Import, "ProtoPNetDataset", DefaultParameterSetName = PathSet)]
[OutputType(typeof(ImageDataset))]
public sealed class ImportProtoPNetDatasetCommand : PathInputCmdlet
{
    /// <summary>ImageFolder, Cub200, StanfordCars or Idx; Auto (default) detects it from the folder's content.</summary>
    [Parameter] public DatasetFormat Format { get; set; } = DatasetFormat.Auto;

    /// <summary>The official split of CUB, Cars and IDX folders (train-* / t10k-* files); image folders have none.</summary>
    [Parameter] [ValidateSet("Train", "Test", "All")] public string Split { get; set; } = "All";

    /// <summary>Crop every image to its bounding box (CUB bounding_boxes.txt, Cars annotations), as the authors trained.</summary>
    [Parameter] public SwitchParameter CropToBoundingBox { get; set; }

    /// <summary>IDX: the labels file, when it is not the images file's usual partner (*-labels-idx1-ubyte[.gz]).</summary>
    [Parameter] public string? LabelsPath { get; set; }

    /// <summary>IDX: class names for labels 0, 1, … (otherwise Fashion-MNIST's names or the digits; see about_ProtoPNet).</summary>
    [Parameter] [ValidateNotNullOrEmpty] public string[]? ClassName { get; set; }

    /// <summary>Skip the header check at import (faster for huge folders; bad files are then skipped during training).</summary>
    [Parameter] public SwitchParameter NoProbe { get; set; }

    /// <summary>Decode every image completely at import: also catches truncated files. Slow.</summary>
    [Parameter] public SwitchParameter Verify { get; set; }

    /// <summary>Decoded pixels are kept in memory after the first read when the whole data set fits in this many MB (default 1024; 0 = never).</summary>
    [Parameter] [ValidateRange(0, long.MaxValue / (1 << 20))] public long MemoryBudgetMB { get; set; } = FileImageDataset.DefaultCacheBudgetBytes >> 20;

    protected override void ProcessRecord()
    {
        if (NoProbe && Verify)
            ThrowTerminating("ConflictingParameters", ErrorKind.InvalidArgument, "-NoProbe and -Verify exclude each other.");
        foreach (string path in ResolveInputPaths("DatasetNotFound"))
        {
            var options = new DatasetImportOptions
            {
                Split = Split,
                CropToBoundingBox = CropToBoundingBox,
                Probe = !NoProbe,
                Verify = Verify,
                ClassNames = ClassName,
                LabelsPath = LabelsPath is null ? null : ResolveExistingFile(LabelsPath),
                CacheBudgetBytes = MemoryBudgetMB << 20,
                Cancel = Cancel,
            };
            var dataset = Run(() => DatasetImporter.Open(path, Format, options));
            foreach (var warning in dataset.Warnings) WriteWarning(warning);
            foreach (var file in dataset.SkippedFiles) WriteError(file.Error);
            if (dataset.SkippedCount > 0)
                WriteWarning($"{dataset.SkippedCount} file(s) of '{path}' could not be read and were left out; the data set holds the other {dataset.Count}.");
            WriteObject(dataset);
        }
    }

}
