using System.Management.Automation;
using ProtoPNet.Data;
using ProtoPNet.Explanation;
using ProtoPNet.Model;

namespace ProtoPNet.PowerShell;

/// <summary>
/// Removes prototypes whose K nearest training patches (one per image) include fewer than Threshold of their own
/// class (the authors' k = 6, τ = 3). Writes one PruningDecision per removed prototype; -WhatIf lists them without
/// removing; -Confirm asks per prototype. Re-optimize the last layer afterwards (Optimize-LastLayer).
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "PrototypePruning", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(PruningDecision), typeof(ProtoPNetModel))]
public sealed class InvokePrototypePruningCommand : ProtoPNetCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public ProtoPNetModel Model { get; set; } = null!;

    /// <summary>The (unaugmented) training set the nearest patches are searched in.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    public ImageDataset Dataset { get; set; } = null!;

    [Parameter] [ValidateRange(1, 1000)] public int K { get; set; } = 6;

    /// <summary>τ: a prototype is pruned when fewer than this many of its K nearest patches are of its class.</summary>
    [Parameter] [ValidateRange(1, 1000)] public int Threshold { get; set; } = 3;

    [Parameter] public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        if (Threshold > K)
            ThrowTerminating("InvalidThreshold", ErrorKind.InvalidArgument, $"Threshold ({Threshold}) cannot exceed K ({K}).", Threshold);
        var progress = new ProgressReporter(this, $"Invoke-PrototypePruning on {Dataset.Name}", 3, p => $"{p.Done:N0} of {p.Total:N0} images");
        IReadOnlyList<PruningDecision> decisions;
        try
        {
            decisions = Run(() => progress.Run(() => PrototypePruning.Evaluate(Model, Dataset, K, Threshold, progress, Cancel)));
        }
        finally
        {
            progress.Complete();
        }
        var removed = new List<PruningDecision>();
        foreach (var d in decisions)
        {
            if (!d.Prune)
            {
                WriteVerbose($"Keep prototype {d.PrototypeIndex} ({d.PrototypeClass}): {d.Reason}.");
                continue;
            }
            if (ShouldProcess($"prototype {d.PrototypeIndex} (class '{d.PrototypeClass}') of '{Model.Name}'", $"Remove ({d.Reason})"))
                removed.Add(d);
        }
        if (removed.Count > 0)
        {
            Run(() => PrototypePruning.Remove(Model, removed.Select(d => d.PrototypeIndex).ToArray(), K, Threshold));
            WriteVerbose($"Removed {removed.Count} prototypes; {Model.PrototypeCount} remain. Re-optimize the last layer next.");
        }
        foreach (var d in removed) WriteObject(d);
        if (PassThru) WriteObject(Model);
    }
}
