using System.Management.Automation;
using ProtoPNet.Data;
using ProtoPNet.Explanation;
using ProtoPNet.Model;
using ProtoPNet.Projection;

namespace ProtoPNet.PowerShell;

/// <summary>
/// Stage 2: projects each prototype onto its nearest own-class latent patch of the push set, then prunes (unless
/// -NoPrune) the prototypes that are not parts of their class: those whose 6 nearest training patches hold fewer than 3
/// of their class (the authors' rule), and those push put on the same patch as another (merged into it); a class keeps
/// at least one. Optimize the last layer next.
/// </summary>
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

    /// <summary>
    /// Keep every prototype. By default push prunes those that are not parts of their class (background, parts shared
    /// across classes, duplicates): the decisions go to the verbose stream and PushResult.Removed. Invoke-PrototypePruning
    /// applies the authors' rule alone with other K and Threshold.
    /// </summary>
    [Parameter] public SwitchParameter NoPrune { get; set; }

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
            if (!NoPrune) result = Prune(result, progress);
        }
        finally
        {
            progress.Complete();
        }
        WriteVerbose($"Pushed {result.Pushed} of {result.PrototypeCount} prototypes over {result.ImageCount} images in {result.Seconds:F1} s" +
                     (result.FromKeptFeatures ? " (from the backbone features kept by training)" : "") + "; " +
                     $"distance moved: mean {result.MeanDistance:G4}, max {result.MaxDistance:G4}" +
                     (result.PredictionsChanged is int c ? $"; {c} of {result.ComparisonCount} comparison images changed prediction" : "") + ".");
        if (result.Removed.Count > 0)
            WriteVerbose($"Pruned {result.Removed.Count} prototypes after the push; {result.Kept} remain. Optimize the last layer next.");
        if (PassThru)
        {
            WriteInformation(result, ["PrototypePush"]);
            WriteObject(Model);
        }
        else WriteObject(result);
    }

    /// <summary>The default pruning after push (PrototypePruning.AfterPush): decides, removes, records.</summary>
    private PushResult Prune(PushResult result, ProgressReporter progress)
    {
        var samePatch = result.Prototypes.Where(p => p.SamePatchAs is not null).ToDictionary(p => p.Index, p => p.SamePatchAs!.Value);
        var decisions = PrototypePruning.AfterPush(Model, Dataset, samePatch, progress: progress, cancel: Cancel);
        foreach (var d in decisions.Where(d => d.Prune || d.Rule == "LastOfClass"))
            WriteVerbose($"{(d.Prune ? "Prune" : "Keep")} prototype {d.PrototypeIndex} ({d.PrototypeClass}): {d.Reason}.");
        var removed = decisions.Where(d => d.Prune).Select(d => d.PrototypeIndex).ToArray();
        if (removed.Length > 0) PrototypePruning.Remove(Model, removed, decisions[0].K, decisions[0].Threshold);
        return result with { Removed = removed, Kept = Model.PrototypeCount };
    }
}
