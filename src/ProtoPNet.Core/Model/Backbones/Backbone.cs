using TorchSharp;
using ProtoPNet.Data;
using static TorchSharp.torch;

namespace ProtoPNet.Model.Backbones;

/// <summary>
/// Where a latent cell looks in the input: cell (i, j) is centred on input pixel
/// (Offset + i·Stride, Offset + j·Stride) and sees a Size × Size window (theoretical receptive field).
/// Explanations report it beside every box, because a box is only as local as this window.
/// </summary>
public readonly record struct ReceptiveField(int Size, int Stride, double Offset);

/// <summary>
/// The convolutional part of a classifier network, with the parameter names of torchvision so that
/// torchvision state-dict files load by name. Its output is the feature map the add-on layers consume.
/// </summary>
public abstract class Backbone : nn.Module<Tensor, Tensor>
{
    protected Backbone(string name) : base(name) { }

    /// <summary>Backbone name as the user gave it (resnet18, vgg19_bn, smallcnn, …).</summary>
    public string Kind => GetName();

    /// <summary>Channels of the feature map.</summary>
    public abstract int OutChannels { get; }

    /// <summary>Side of the (square) feature map for a square input of side <paramref name="imageSize"/>.</summary>
    public abstract int FeatureMapSize(int imageSize);

    public abstract ReceptiveField ReceptiveField { get; }

    /// <summary>The input normalization this backbone's pretrained weights expect.</summary>
    public virtual ImageNormalization DefaultNormalization => ImageNormalization.ImageNet;

    /// <summary>
    /// Whether the add-on after this backbone starts from the authors' initialization (Kaiming normal, fan-out) instead of a
    /// convolution's default: true for the authors' backbone families, where it was measured to matter at push
    /// (docs/algorithm.md §1).
    /// </summary>
    public virtual bool AuthorsAddOnInitialization => true;

    /// <summary>Output side of a conv/pool with the given kernel, stride and padding (floor mode).</summary>
    protected static int ConvOut(int size, int kernel, int stride, int padding) => (size + 2 * padding - kernel) / stride + 1;
}
