using ProtoPNet.Explanation;
using ProtoPNet.Model;

namespace ProtoPNet.PowerShell;

/// <summary>
/// One prototype of a model: its class, how much it decides (its <see cref="PrototypeUsage"/>) and, after push, where
/// it came from (its <see cref="PrototypeProvenance"/>).
/// </summary>
public sealed class PrototypeInfo(int index, string @class, PrototypeProvenance? provenance, string model, PrototypeUsage usage)
{
    public int Index { get; } = index;
    public string Class { get; } = @class;
    public string SourceImage => provenance?.SourceImage ?? "";
    public int? LatentRow => provenance?.LatentRow;
    public int? LatentColumn => provenance?.LatentColumn;
    public int? BoxX => provenance?.BoxX;
    public int? BoxY => provenance?.BoxY;
    public int? BoxWidth => provenance?.BoxWidth;
    public int? BoxHeight => provenance?.BoxHeight;
    public double? Distance => provenance?.Distance;
    public string Model { get; } = model;
    /// <summary>The last layer's weight from this prototype to its own class.</summary>
    public double Weight => usage.Weight;
    /// <summary>Its share of its class's positive own-class weight (0 when its weight is not positive).</summary>
    public double WeightShare => usage.WeightShare;
    /// <summary>With -Dataset: images on which it is the top evidence for the predicted class.</summary>
    public int? TopEvidence => usage.TopEvidence;
    /// <summary>With -Dataset: images the count was taken over.</summary>
    public int? Images => usage.Images;
    /// <summary>The receptive window of the source patch in the source image (Get-Explanation -BoxMethod ReceptiveField); BoxX… is the paper's percentile box.</summary>
    public int? WindowX => provenance?.WindowX;
    public int? WindowY => provenance?.WindowY;
    public int? WindowWidth => provenance?.WindowWidth;
    public int? WindowHeight => provenance?.WindowHeight;
}
