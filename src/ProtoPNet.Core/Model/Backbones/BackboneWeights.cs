using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Model.Backbones;

/// <summary>What a weights file gave a backbone.</summary>
public sealed record WeightLoadReport(IReadOnlyList<string> Loaded, IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected);

/// <summary>Loads ImageNet backbone weights from torchvision files (.pth, .safetensors) or TorchSharp .dat files.</summary>
public static partial class BackboneWeights
{
    /// <summary>
    /// Copies every tensor of the file whose name matches a backbone parameter or buffer. Names the file has
    /// and the backbone lacks (a classifier head, say) are reported, as are backbone names the file lacks;
    /// a tensor whose shape differs is refused, naming it.
    /// </summary>
    public static WeightLoadReport Load(Backbone backbone, string path)
    {
        throw new ProtoPNetException("NotImplemented", ErrorKind.NotImplemented, "Weights loading is not built yet.");
    }
}
