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
        if (string.Equals(model.Backbone, Model.Backbones.ImageNetResNet18.Name, StringComparison.OrdinalIgnoreCase))
            model.History.Add(new HistoryEntry { Stage = "PretrainedBackbone", Note = "ImageNet ResNet-18 (CNTK export) from Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1" });
        if (weights is not null)
        {
            WeightLoadReport report;
            try
            {
                report = Run(() => BackboneWeights.Load(model.Network.Backbone, weights));
            }
            catch
            {
                model.Dispose();   // a refused weights file leaves no half-built model holding native memory
                throw;
            }
            // A classifier head (fc.*, classifier.*) is expected in an ImageNet file: one line, not one warning per tensor.
            if (report.Unexpected.Count > 0)
                WriteVerbose($"{report.Unexpected.Count} tensor(s) of the weights file are not part of the {model.Backbone} backbone and were ignored: " +
                             string.Join(", ", report.Unexpected));
            WriteVerbose($"Loaded {report.Loaded.Count} backbone tensors from '{weights}'.");
            model.History.Add(new HistoryEntry { Stage = "BackboneWeights", Note = Path.GetFileName(weights) });
        }
        WriteObject(model);
    }
}
