using System.Management.Automation;
using ProtoPNet.Data;
using ProtoPNet.Explanation;
using ProtoPNet.Model;

namespace ProtoPNet.PowerShell;

/// <summary>For each prototype, its K nearest patches in a dataset, one per image, with boxes of -BoxMethod (paper Figure 5).</summary>
[Cmdlet(VerbsCommon.Find, "NearestPatch")]
[OutputType(typeof(NearestPatch))]
public sealed class FindNearestPatchCommand : ProtoPNetCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public ProtoPNetModel Model { get; set; } = null!;

    [Parameter(Mandatory = true, Position = 0)]
    public ImageDataset Dataset { get; set; } = null!;

    [Parameter] [ValidateRange(1, 1000)] public int K { get; set; } = 6;

    /// <summary>Only these prototypes (indices; default: all).</summary>
    [Parameter] public int[]? Prototype { get; set; }

    /// <summary>Skip the boxes (a second, smaller pass over the chosen images).</summary>
    [Parameter] public SwitchParameter NoBox { get; set; }

    /// <summary>The box BoxX… holds: ReceptiveField (default, the nearest latent patch's input window, as Get-Explanation) or Percentile (the paper's box).</summary>
    [Parameter] public BoxMethod BoxMethod { get; set; } = BoxMethod.ReceptiveField;

    protected override void ProcessRecord()
    {
        var progress = new ProgressReporter(this, $"Find-NearestPatch on {Dataset.Name}", 2, p => $"{p.Done:N0} of {p.Total:N0} images");
        NearestPatchResult result;
        try
        {
            result = Run(() => progress.Run(() => NearestPatches.Find(Model, Dataset, K, Prototype, !NoBox, progress: progress, cancel: Cancel, boxMethod: BoxMethod)));
        }
        finally
        {
            progress.Complete();
        }
        foreach (var skipped in result.Skipped) WriteError(skipped.Error);
        foreach (var list in result.PerPrototype)
            foreach (var patch in list) WriteObject(patch);
    }
}
