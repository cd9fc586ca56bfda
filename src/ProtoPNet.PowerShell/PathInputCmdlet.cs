using System.Management.Automation;

namespace ProtoPNet.PowerShell;

/// <summary>
/// A cmdlet whose input is files or folders: -Path (wildcards, from the pipeline) or -LiteralPath (also bound from
/// PSPath, so Get-ChildItem output pipes in).
/// </summary>
public abstract class PathInputCmdlet : ProtoPNetCmdlet
{
    protected const string PathSet = "Path";
    protected const string LiteralPathSet = "LiteralPath";

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = PathSet)]
    [SupportsWildcards]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = LiteralPathSet)]
    [Alias("PSPath", "LP")]
    public string[] LiteralPath { get; set; } = [];

    /// <summary>The -Path or -LiteralPath input, resolved; one that does not exist is an error with <paramref name="notFoundErrorId"/>.</summary>
    protected IEnumerable<string> ResolveInputPaths(string notFoundErrorId) =>
        ResolveInputPaths(ParameterSetName == LiteralPathSet ? LiteralPath : Path, ParameterSetName == LiteralPathSet, notFoundErrorId);
}
