using System.Management.Automation;
using ProtoPNet.Model;

namespace ProtoPNet.PowerShell;

/// <summary>One prototype of a model: its class and, after push, where it came from.</summary>
public sealed class PrototypeInfo
{
    public int Index { get; init; }
    public string Class { get; init; } = "";
    public string SourceImage { get; init; } = "";
    public int? LatentRow { get; init; }
    public int? LatentColumn { get; init; }
    public int? BoxX { get; init; }
    public int? BoxY { get; init; }
    public int? BoxWidth { get; init; }
    public int? BoxHeight { get; init; }
    public double? Distance { get; init; }
    public string Model { get; init; } = "";
}

[Cmdlet(VerbsCommon.Get, "Prototype")]
[OutputType(typeof(PrototypeInfo))]
public sealed class GetPrototypeCommand : ProtoPNetCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    public ProtoPNetModel Model { get; set; } = null!;

    /// <summary>Only the prototypes of these classes.</summary>
    [Parameter] public string[]? Class { get; set; }

    protected override void ProcessRecord()
    {
        var wanted = Class is null ? null : new HashSet<string>(Class, StringComparer.OrdinalIgnoreCase);
        for (int j = 0; j < Model.PrototypeCount; j++)
        {
            string className = Model.ClassNames[Model.PrototypeClass[j]];
            if (wanted is not null && !wanted.Contains(className)) continue;
            var p = Model.Provenance[j];
            WriteObject(new PrototypeInfo
            {
                Index = j,
                Class = className,
                SourceImage = p?.SourceImage ?? "",
                LatentRow = p?.LatentRow,
                LatentColumn = p?.LatentColumn,
                BoxX = p?.BoxX,
                BoxY = p?.BoxY,
                BoxWidth = p?.BoxWidth,
                BoxHeight = p?.BoxHeight,
                Distance = p?.Distance,
                Model = Model.Name,
            });
        }
    }
}
