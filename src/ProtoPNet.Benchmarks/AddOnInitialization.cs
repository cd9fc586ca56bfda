using ProtoPNet.Model;
using TorchSharp;

namespace ProtoPNet.Benchmarks;

/// <summary>
/// Redraws a new model's add-on with a chosen initialization, so an experiment can cross backbone and initialization
/// (the product ties them: the authors' after their backbones, a convolution's default after smallcnn).
/// </summary>
public static class AddOnInitialization
{
    /// <param name="authors">The authors' (Kaiming normal, fan-out, bias 0) or a convolution's default.</param>
    /// <param name="seed">Seeds the draw, so a repeat is reproducible.</param>
    public static void Apply(ProtoPNetModel model, bool authors, long seed)
    {
        torch.manual_seed(seed);
        AddOnLayers.Initialize(model.Network.AddOn, authors);
    }
}
