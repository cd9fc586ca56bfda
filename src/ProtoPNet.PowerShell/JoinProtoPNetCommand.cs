using System.Management.Automation;
using ProtoPNet.Model;

namespace ProtoPNet.PowerShell;

/// <summary>An ensemble of ProtoPNets over the same classes: logits add, the explanation is one combined scoring sheet.</summary>
[Cmdlet(VerbsCommon.Join, "ProtoPNet")]
[OutputType(typeof(ProtoPNetEnsemble))]
public sealed class JoinProtoPNetCommand : ProtoPNetCmdlet
{
    /// <summary>Models (or ensembles, which are flattened) to join; from the pipeline or as an array.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    public IClassifier[] Model { get; set; } = [];

    [Parameter] public string? Name { get; set; }

    private readonly List<IClassifier> members = new();

    protected override void ProcessRecord() => members.AddRange(Model);

    protected override void EndProcessing()
    {
        if (members.Sum(m => m.Members.Count) < 2)
            ThrowTerminating("EnsembleNeedsTwoModels", ErrorKind.InvalidArgument, "Join-ProtoPNet needs at least two models.");
        WriteObject(Run(() => new ProtoPNetEnsemble(members, Name)));
    }
}
