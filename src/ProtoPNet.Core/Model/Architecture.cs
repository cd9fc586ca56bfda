using ProtoPNet.Data;
namespace ProtoPNet.Model;

public enum AddOnKind { Bottleneck, Regular }

public enum SimilarityKind { Log, Linear }

/// <summary>Everything needed to rebuild a model's network, except its weights. Saved in the model file.</summary>
public sealed record ProtoPNetArchitecture
{
    public required string Backbone { get; init; }
    public int ImageSize { get; init; } = 224;
    public int PrototypeDepth { get; init; } = 128;
    public int PrototypeSize { get; init; } = 1;
    public AddOnKind AddOn { get; init; } = AddOnKind.Bottleneck;
    public SimilarityKind Similarity { get; init; } = SimilarityKind.Log;
    /// <summary>Null until the model is built; then the backbone's default unless given.</summary>
    public ImageNormalization? Normalization { get; init; }
    /// <summary>log((d+1)/(d+ε)); the authors' ε.</summary>
    public double Epsilon { get; init; } = 1e-4;
}
