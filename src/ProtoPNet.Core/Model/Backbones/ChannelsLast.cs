using static TorchSharp.torch;

namespace ProtoPNet.Model.Backbones;

/// <summary>
/// Channels-last (NHWC) strides for 4-D tensors, the layout the backbones run in (docs/performance.md, "Channels-last").
/// TorchSharp 0.107 has no memory_format argument, so the layout is made by a permuted copy.
/// </summary>
public static class ChannelsLast
{
    /// <summary>The same [N, C, H, W] values with channels adjacent in memory for each pixel.</summary>
    public static Tensor Strides(Tensor t) => t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);

    /// <summary>
    /// Gives <paramref name="t"/> itself NHWC (or, with <paramref name="channelsLast"/> false, contiguous NCHW) strides,
    /// values unchanged: the same tensor object, so optimizers and modules that hold it see the new layout.
    /// </summary>
    public static void Relayout(Tensor t, bool channelsLast)
    {
        if (channelsLast ? Has(t) : t.is_contiguous()) return;
        using var _ = no_grad();
        using var scope = NewDisposeScope();   // Strides' intermediate views live until the copy is made
        var copy = channelsLast ? Strides(t) : t.contiguous();
        var result = t.set_(copy);
        if (!ReferenceEquals(result, t)) result.Dispose();   // TorchSharp returns the tensor itself; anything else is a second handle
    }

    /// <summary>A contiguous view of the same memory: the tensor itself when contiguous, its NHWC permutation when it has NHWC strides, else null.</summary>
    public static Tensor? MemoryOrderView(Tensor t) => t.is_contiguous() ? t.alias() : Has(t) ? t.permute(0, 2, 3, 1) : null;

    /// <summary>Whether a 4-D tensor has NHWC strides (and more than one channel, where the layouts differ).</summary>
    public static bool Has(Tensor t) =>
        t.dim() == 4 && t.shape[1] > 1 && t.stride(1) == 1 && t.stride(3) == t.shape[1] && t.stride(2) == t.shape[1] * t.shape[3];
}
