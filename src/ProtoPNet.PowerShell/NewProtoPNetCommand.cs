using System.Management.Automation;
using ProtoPNet.Model;
using ProtoPNet.Model.Backbones;

namespace ProtoPNet.PowerShell;

[Cmdlet(VerbsCommon.New, "ProtoPNet", DefaultParameterSetName = ByNameSet)]
[OutputType(typeof(ProtoPNetModel))]
public sealed class NewProtoPNetCommand : ProtoPNetCmdlet
{
    private const string ByNameSet = "ByClassName";
    private const string ByCountSet = "ByClassCount";

    [Parameter(Mandatory = true, Position = 0)]
    [ArgumentCompleter(typeof(BackboneCompleter))]
    public string Backbone { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = ByNameSet)]
    [ValidateNotNullOrEmpty]
    public string[] ClassName { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = ByCountSet)]
    [ValidateRange(1, 100000)]
    public int ClassCount { get; set; }

    [Parameter] [ValidateRange(1, 10000)] public int PrototypesPerClass { get; set; } = 10;
    [Parameter] [ValidateRange(1, 8192)] public int PrototypeDepth { get; set; } = 128;
    [Parameter] [ValidateRange(1, 64)] public int PrototypeSize { get; set; } = 1;
    [Parameter] public AddOnKind AddOnLayers { get; set; } = AddOnKind.Bottleneck;
    [Parameter] public SimilarityKind Similarity { get; set; } = SimilarityKind.Log;
    [Parameter] [ValidateRange(8, 4096)] public int ImageSize { get; set; } = 224;

    /// <summary>ImageNet weights for the backbone: torchvision .pth, .safetensors, or a TorchSharp .dat file.</summary>
    [Parameter] public string? Weights { get; set; }

    [Parameter] public string Device { get; set; } = "cpu";
    [Parameter] public int? Seed { get; set; }
    [Parameter] public string? Name { get; set; }

    protected override void ProcessRecord()
    {
        string[] classes = ParameterSetName == ByCountSet
            ? Enumerable.Range(0, ClassCount).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray()
            : ClassName;
        string? weights = Weights is null ? null : ResolveExistingFile(Weights);
        var architecture = new ProtoPNetArchitecture
        {
            Backbone = Backbone.ToLowerInvariant(),
            ImageSize = ImageSize,
            PrototypeDepth = PrototypeDepth,
            PrototypeSize = PrototypeSize,
            AddOn = AddOnLayers,
            Similarity = Similarity,
        };
        var model = Run(() => ProtoPNetModel.Create(architecture, classes, PrototypesPerClass, Seed, Device));
        if (Name is not null) model.Name = Name;
        else model.Name = $"{model.Backbone}-protopnet";
        if (weights is not null)
        {
            var report = Run(() => BackboneWeights.Load(model.Network.Backbone, weights));
            foreach (var name in report.Unexpected) WriteWarning($"Weights file parameter '{name}' is not used by the {model.Backbone} backbone.");
            foreach (var name in report.Missing) WriteWarning($"Backbone parameter '{name}' is not in the weights file; it keeps its random initialization.");
            WriteVerbose($"Loaded {report.Loaded.Count} backbone tensors from '{weights}'.");
            model.History.Add(new HistoryEntry { Stage = "BackboneWeights", Note = Path.GetFileName(weights) });
        }
        WriteObject(model);
    }
}
