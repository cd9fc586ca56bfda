using static TorchSharp.torch;

namespace ProtoPNet.Model.Backbones;

/// <summary>
/// Channels-last (NHWC) strides for 4-D tensors, the layout the backbones run in (docs/architecture.md, "Channels-last").
/// TorchSharp 0.107 has no memory_format argument, so the layout is made by a permuted copy.
/// </summary>
public static class ChannelsLast
{
    /// <summary>The same [N, C, H, W] values with channels adjacent in memory for each pixel.</summary>
    public static Tensor Strides(Tensor t) => t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);

    /// <summary>Whether a 4-D tensor has NHWC strides (and more than one channel, where the layouts differ).</summary>
    public static bool Has(Tensor t) =>
        t.dim() == 4 && t.shape[1] > 1 && t.stride(1) == 1 && t.stride(3) == t.shape[1] && t.stride(2) == t.shape[1] * t.shape[3];
}
