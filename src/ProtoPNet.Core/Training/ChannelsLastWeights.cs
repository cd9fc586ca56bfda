using ProtoPNet.Model.Backbones;
using TorchSharp;
using static TorchSharp.torch;
using ProtoPNet.Optimization;

namespace ProtoPNet.Training;

/// <summary>
/// For a training phase that trains the backbone: its k×k convolution weights, their gradients and their Adam moments
/// held in channels-last (NHWC) strides, the layout the backbone computes in, so that no step copies the weights to
/// NHWC and their gradients back (2–4 % of a whole resnet18 step at 64×64). Values never change, only strides: the
/// update is elementwise, so training is bit for bit what it is in NCHW. Anything that writes tensors out (a
/// checkpoint) runs inside <see cref="Pause"/>; disposing gives everything back its contiguous NCHW layout.
/// See docs/performance.md, "Channels-last".
/// </summary>
internal sealed class ChannelsLastWeights : IDisposable
{
    private readonly Tensor[] weights;
    private readonly FusedAdam optimizer;
    private bool channelsLast;

    internal ChannelsLastWeights(Tensor[] weights, FusedAdam optimizer)
    {
        this.weights = weights;
        this.optimizer = optimizer;
        Relayout(true);
    }

    /// <summary>Puts the backbone's k×k convolution weights (and what the optimizer holds for them) in NHWC strides.</summary>
    public static ChannelsLastWeights Apply(Backbone backbone, FusedAdam optimizer) =>
        new(backbone.modules().OfType<MixedPrecisionConv2d>().Where(c => !c.IsPointwise && c.Weight.shape[1] > 1).Select(c => (Tensor)c.Weight).ToArray(), optimizer);

    /// <summary>Contiguous NCHW until the returned object is disposed (for writing a checkpoint).</summary>
    public IDisposable Pause()
    {
        Relayout(false);
        return new Resume(this);
    }

    public void Dispose() => Relayout(false);

    private void Relayout(bool toChannelsLast)
    {
        if (channelsLast == toChannelsLast) return;
        foreach (var weight in weights)
        {
            ChannelsLast.Relayout(weight, toChannelsLast);
            using (var grad = weight.grad)
                if (grad is not null) ChannelsLast.Relayout(grad, toChannelsLast);
            if (optimizer.MomentsOf(weight) is var (first, second))
            {
                ChannelsLast.Relayout(first, toChannelsLast);
                ChannelsLast.Relayout(second, toChannelsLast);
            }
        }
        channelsLast = toChannelsLast;
    }

    private sealed class Resume(ChannelsLastWeights owner) : IDisposable
    {
        public void Dispose() => owner.Relayout(true);
    }
}
