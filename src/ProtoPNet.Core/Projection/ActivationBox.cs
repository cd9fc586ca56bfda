using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Projection;

/// <summary>A box in pixel coordinates: X, Y of the upper-left pixel, Width and Height in pixels.</summary>
public readonly record struct PixelBox(int X, int Y, int Width, int Height);

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
        float threshold = Percentile(values, percentile);
        int x0 = w, y0 = h, x1 = -1, y1 = -1;
        for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
        {
            if (!(values[y * w + x] >= threshold)) continue;
            if (x < x0) x0 = x;
            if (x > x1) x1 = x;
            if (y < y0) y0 = y;
            if (y > y1) y1 = y;
        }
        if (x1 < 0) return new PixelBox(0, 0, w, h); // all NaN: the whole image
        return new PixelBox(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
    }

    /// <summary>Upsample then box: the box in model-input pixels for an activation map [h, w] at input size <paramref name="inputSize"/>.</summary>
    public static PixelBox FromActivation(Tensor activation, int inputSize, double percentile = DefaultPercentile)
    {
        using var up = Upsample(activation, inputSize);
        return Box(up, percentile);
    }

    /// <summary>The q-th percentile with linear interpolation between order statistics (numpy's default).</summary>
    public static float Percentile(float[] values, double q)
    {
        if (values.Length == 0) return float.NaN;
        var sorted = values.Where(v => !float.IsNaN(v)).ToArray();
        if (sorted.Length == 0) return float.NaN;
        Array.Sort(sorted);
        double position = (sorted.Length - 1) * Math.Clamp(q, 0, 100) / 100.0;
        int lower = (int)Math.Floor(position);
        int upper = Math.Min(lower + 1, sorted.Length - 1);
        double fraction = position - lower;
        return (float)(sorted[lower] + (sorted[upper] - sorted[lower]) * fraction);
    }
}
