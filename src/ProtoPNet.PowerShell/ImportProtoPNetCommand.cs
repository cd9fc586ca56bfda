using System.Collections.ObjectModel;
using System.Management.Automation;
using ProtoPNet.Model;
using ProtoPNet.Persistence;

namespace ProtoPNet.PowerShell;

[Cmdlet(VerbsData.Import, "ProtoPNet", DefaultParameterSetName = PathSet)]
[OutputType(typeof(ProtoPNetModel), typeof(ProtoPNetEnsemble))]
public sealed class ImportProtoPNetCommand : ProtoPNetCmdlet
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = PathSet)]
    [SupportsWildcards]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = LiteralPathSet)]
    [Alias("PSPath", "LP")]
    public string[] LiteralPath { get; set; } = [];

    [Parameter] public string Device { get; set; } = "cpu";

    protected override void ProcessRecord()
    {
        foreach (string path in ResolvePaths())
        {
            try
            {
                WriteObject(ModelFile.LoadAny(path, Device));
            }
            catch (ProtoPNetException e)
            {
                WriteError(e);
            }
        }
    }

    private IEnumerable<string> ResolvePaths()
    {
        if (ParameterSetName == LiteralPathSet)
        {
            foreach (var p in LiteralPath) yield return SessionState.Path.GetUnresolvedProviderPathFromPSPath(p);
            yield break;
        }
        foreach (var p in Path)
        {
            Collection<string>? resolved = null;
            try
            {
                resolved = SessionState.Path.GetResolvedProviderPathFromPSPath(p, out _);
            }
            catch (ItemNotFoundException e)
            {
                WriteError(new ErrorRecord(e, "ModelFileNotFound", ErrorCategory.ObjectNotFound, p));
            }
            if (resolved is null) continue;
            foreach (var r in resolved) yield return r;
        }
    }
}
