using ProtoPNet.Model;

namespace ProtoPNet.PowerShell;

/// <summary>One prototype of a model: its class and, after push, where it came from (its <see cref="PrototypeProvenance"/>).</summary>
public sealed class PrototypeInfo(int index, string @class, PrototypeProvenance? provenance, string model)
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
    /// <summary>The receptive window of the source patch in the source image (Get-Explanation -BoxMethod ReceptiveField); BoxX… is the paper's percentile box.</summary>
    public int? WindowX => provenance?.WindowX;
    public int? WindowY => provenance?.WindowY;
    public int? WindowWidth => provenance?.WindowWidth;
    public int? WindowHeight => provenance?.WindowHeight;
}
