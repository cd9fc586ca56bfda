using System.Management.Automation;
using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Projection;

namespace ProtoPNet.PowerShell;

/// <summary>Stage 2: projects each prototype onto its nearest own-class latent patch of the push set.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "PrototypePush")]
[OutputType(typeof(PushResult), typeof(ProtoPNetModel))]
public sealed class InvokePrototypePushCommand : ProtoPNetCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public ProtoPNetModel Model { get; set; } = null!;

    /// <summary>The unaugmented training images.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    public ImageDataset Dataset { get; set; } = null!;

    [Parameter] [ValidateRange(1, 1 << 20)] public int BatchSize { get; set; } = 75;

    /// <summary>Writes, per prototype, its source image with the box, the crop, and the self-activation overlay (PNG).</summary>
    [Parameter] public string? OutputDirectory { get; set; }

    /// <summary>Counts the images of this dataset whose prediction changes across the push (paper, Theorem 2.1).</summary>
    [Parameter] public ImageDataset? ComparisonDataset { get; set; }

    /// <summary>Exact (default): every patch at full precision. Shortlist: a bfloat16 pass shortlists each prototype's nearest
    /// images, then the exact search runs over those only (faster; the nearest patch whenever it made the shortlist).</summary>
    [Parameter] public PushSearch Search { get; set; } = PushSearch.Exact;

    /// <summary>Emit the model; the push result then goes to the information stream (tag PrototypePush).</summary>
    [Parameter] public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        var options = new PushOptions
        {
            BatchSize = BatchSize,
            OutputDirectory = OutputDirectory is null ? null : ResolveNewPath(OutputDirectory),
            ComparisonDataset = ComparisonDataset,
            Search = Search,
        };
        var progress = new ProgressReporter(this, $"Pushing prototypes of {Model.Name}");
        PushResult result;
        try
        {
            result = Run(() => PrototypePush.Push(Model, Dataset, options, progress, WriteWarning, Cancel));
        }
        finally
        {
            progress.Complete();
        }
        WriteVerbose($"Pushed {result.Pushed} of {result.PrototypeCount} prototypes over {result.ImageCount} images in {result.Seconds:F1} s" +
                     (result.FromKeptFeatures ? " (from the backbone features kept by training)" : "") + "; " +
                     $"distance moved: mean {result.MeanDistance:G4}, max {result.MaxDistance:G4}" +
                     (result.PredictionsChanged is int c ? $"; {c} of {result.ComparisonCount} comparison images changed prediction" : "") + ".");
        if (PassThru)
        {
            WriteInformation(result, ["PrototypePush"]);
            WriteObject(Model);
        }
        else WriteObject(result);
    }
}
