using System.Management.Automation;
using ProtoPNet.Data;
using ProtoPNet.Explanation;
using ProtoPNet.Model;

namespace ProtoPNet.PowerShell;

[Cmdlet(VerbsCommon.Get, "Prototype")]
[OutputType(typeof(PrototypeInfo))]
public sealed class GetPrototypeCommand : ProtoPNetCmdlet
{
    /// <summary>A model, or an ensemble (then Model names each prototype's member).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    public IClassifier Model { get; set; } = null!;

    /// <summary>Only the prototypes of these classes.</summary>
    [Parameter] public string[]? Class { get; set; }

    /// <summary>Also write a prototype gallery, prototypes.html grouped by class, into this folder.</summary>
    [Parameter] public string? OutputDirectory { get; set; }

    /// <summary>The push dataset, to draw prototypes whose source is an item of a container file (IDX).</summary>
    [Parameter] public ImageDataset? PushDataset { get; set; }

    /// <summary>Count, over this data set, how often each prototype is the top evidence for the predicted class (TopEvidence).</summary>
    [Parameter] public ImageDataset? Dataset { get; set; }

    /// <summary>The box the gallery draws on each prototype's source: ReceptiveField (default, the rows' WindowX…) or Percentile (BoxX…).</summary>
    [Parameter] public BoxMethod BoxMethod { get; set; } = BoxMethod.ReceptiveField;

    protected override void ProcessRecord()
    {
        IReadOnlyList<PrototypeUsage>[] usage;
        if (Dataset is null) usage = Run(() => PrototypeUsageMeter.Weights(Model));
        else
        {
            var progress = new ProgressReporter(this, $"Get-Prototype: top evidence on {Dataset.Name}", 4, p => $"{p.Done:N0} of {p.Total:N0} images");
            try
            {
                var (measured, skipped) = Run(() => progress.Run(() => PrototypeUsageMeter.Measure(Model, Dataset, progress: progress, cancel: Cancel)));
                foreach (var s in skipped) WriteError(s.Error);
                usage = measured;
            }
            finally
            {
                progress.Complete();
            }
        }
        if (OutputDirectory is not null)
        {
            string page = Run(() => PrototypeGallery.Write(Model, ResolveNewPath(OutputDirectory), PushDataset, BoxMethod, usage));
            WriteVerbose($"Prototype gallery: {page}");
        }
        var wanted = Class is null ? null : new HashSet<string>(Class, StringComparer.OrdinalIgnoreCase);
        var names = Model is ProtoPNetEnsemble ensemble ? ensemble.MemberNames : [Model.Name];
        for (int m = 0; m < Model.Members.Count; m++)
        for (int j = 0; j < Model.Members[m].PrototypeCount; j++)
        {
            var member = Model.Members[m];
            string className = member.ClassNames[member.PrototypeClass[j]];
            if (wanted is not null && !wanted.Contains(className)) continue;
            WriteObject(new PrototypeInfo(j, className, member.Provenance[j], names[m], usage[m][j]));
        }
    }
}
