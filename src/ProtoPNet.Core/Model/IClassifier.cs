using ProtoPNet.Data;
using static TorchSharp.torch;

namespace ProtoPNet.Model;

/// <summary>
/// Anything that turns images into class logits: a single <see cref="ProtoPNetModel"/> or a <see cref="ProtoPNetEnsemble"/>.
/// Evaluation and explanation code accepts this so that ensembles work wherever a model does.
/// </summary>
public interface IClassifier
{
    string Name { get; }
    IReadOnlyList<string> ClassNames { get; }
    /// <summary>Side of the square model input.</summary>
    int ImageSize { get; }
    ImageNormalization Normalization { get; }
    /// <summary>The ProtoPNets whose logits add up to this classifier's (a single model: itself).</summary>
    IReadOnlyList<ProtoPNetModel> Members { get; }
    /// <summary>Logits [N,K] on the CPU for normalized images [N,3,S,S]; eval mode, no gradients, thread-safe.</summary>
    Tensor Logits(Tensor normalizedImages);
}
