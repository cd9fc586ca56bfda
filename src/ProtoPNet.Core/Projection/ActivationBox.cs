using ProtoPNet.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Projection;

/// <summary>
/// The "most activated region" of a prototype in an image, as the paper draws it: the activation map over latent
/// cells is upsampled to the input size (bicubic, as the authors' cv2.INTER_CUBIC), and the box is the smallest
/// rectangle holding every pixel at or above the map's 95th percentile. Shared by push and explanations.
/// </summary>
public static class ActivationBox
{
    public const double DefaultPercentile = 95;

    /// <summary>Upsamples an activation map [h, w] to [size, size] (bicubic, align_corners false).</summary>
    public static Tensor Upsample(Tensor activation, int size)
    {
        using var scope = NewDisposeScope();
        var map = activation.to(ScalarType.Float32).view(1, 1, activation.shape[0], activation.shape[1]);
        var up = nn.functional.interpolate(map, [size, size], mode: InterpolationMode.Bicubic, align_corners: false);
        return up.view(size, size).MoveToOuterDisposeScope();
    }

    /// <summary>The smallest box holding every pixel of <paramref name="map"/> [H, W] at or above its <paramref name="percentile"/>-th percentile.</summary>
    public static PixelBox Box(Tensor map, double percentile = DefaultPercentile)
    {
        int h = (int)map.shape[0], w = (int)map.shape[1];
        using var cpu = map.detach().to(ScalarType.Float32).cpu().contiguous();
        var values = cpu.data<float>().ToArray();
        if (values.All(float.IsNaN)) return new PixelBox(0, 0, w, h);
        float threshold = Percentile(values, percentile);
        return Explanation.ActivationRegion.BoxAtOrAbove(values, w, h, threshold);
    }

    /// <summary>Upsample then box: the box in model-input pixels for an activation map [h, w] at input size <paramref name="inputSize"/>.</summary>
    public static PixelBox FromActivation(Tensor activation, int inputSize, double percentile = DefaultPercentile)
    {
        using var up = Upsample(activation, inputSize);
        return Box(up, percentile);
    }

    /// <summary>The q-th percentile with linear interpolation between order statistics (numpy's default), NaNs ignored.</summary>
    public static float Percentile(float[] values, double q)
    {
        var finite = values.Where(v => !float.IsNaN(v)).ToArray();
        return finite.Length == 0 ? float.NaN : Explanation.ActivationRegion.PercentileInPlace(finite, Math.Clamp(q, 0, 100));
    }
}
