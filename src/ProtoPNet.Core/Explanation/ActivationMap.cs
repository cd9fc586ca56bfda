using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Model.Backbones;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ProtoPNet.Explanation;

/// <summary>
/// Where a prototype fires in an image, the way the authors draw it: the prototype's similarity at every latent
/// patch (its activation map), upsampled to the input size, and the smallest box holding every pixel at or above
/// the map's 95th percentile. (Projection/ActivationBox boxes one map for push with these same functions; this one works on many maps at once.)
/// </summary>
public static class ActivationRegion
{
    public const double Percentile = 95;

    /// <summary>Similarity at every patch: log((d+1)/(d+ε)) or −d, from distance maps of any shape.</summary>
    public static Tensor FromDistances(Tensor distanceMaps, SimilarityKind kind, double epsilon) =>
        PrototypeDistances.Similarity(distanceMaps, kind, epsilon);

    /// <summary>
    /// Upsamples activation maps [n,h,w] to [n,size,size] (bicubic, as the authors' cv2.resize INTER_CUBIC) and finds
    /// each map's 95th-percentile box in input pixels. <paramref name="keepMaps"/> returns the upsampled maps too.
    /// </summary>
    public static PixelBox[] Boxes(Tensor activations, int size, out float[][]? upsampled, bool keepMaps = false)
    {
        int n = (int)activations.shape[0];
        var boxes = new PixelBox[n];
        upsampled = keepMaps ? new float[n][] : null;
        if (n == 0) return boxes;
        int pixels = size * size;
        var scratch = new float[pixels];
        // Chunks bound the memory of [chunk, size, size] at large input sizes. Upsampling is one torch call; the
        // percentile (a selection) and the box (a scan) are cheaper in plain loops than as a chain of small torch ops.
        int chunk = Math.Max(1, 4_000_000 / pixels);
        for (int start = 0; start < n; start += chunk)
        {
            int count = Math.Min(chunk, n - start);
            float[] values;
            using (var scope = NewDisposeScope())
            {
                var maps = activations.narrow(0, start, count).to(ScalarType.Float32).unsqueeze(1);
                values = interpolate(maps, [size, size], mode: InterpolationMode.Bicubic, align_corners: false).cpu().data<float>().ToArray();
            }
            for (int i = 0; i < count; i++)
            {
                var map = values.AsSpan(i * pixels, pixels);
                map.CopyTo(scratch);
                float threshold = PercentileInPlace(scratch, Percentile);
                boxes[start + i] = BoxAtOrAbove(map, size, size, threshold);
                if (upsampled is not null) upsampled[start + i] = map.ToArray();
            }
        }
        return boxes;
    }

    /// <summary>numpy.percentile with linear interpolation; reorders <paramref name="values"/>.</summary>
    public static float PercentileInPlace(float[] values, double percentile)
    {
        double position = percentile / 100 * (values.Length - 1);
        int lower = (int)Math.Floor(position), upper = (int)Math.Ceiling(position);
        float low = Select(values, lower);
        if (upper == lower) return low;
        // After selecting `lower`, everything above it is in values[lower+1..]: the next order statistic is their minimum.
        float high = float.PositiveInfinity;
        for (int i = lower + 1; i < values.Length; i++) high = Math.Min(high, values[i]);
        return (float)(low + (high - low) * (position - lower));
    }

    /// <summary>The k-th smallest value (0-based), by quickselect; partitions the array around it.</summary>
    private static float Select(float[] a, int k)
    {
        int left = 0, right = a.Length - 1;
        while (left < right)
        {
            float pivot = a[(left + right) >>> 1];
            int i = left, j = right;
            while (i <= j)
            {
                while (a[i] < pivot) i++;
                while (a[j] > pivot) j--;
                if (i <= j) { (a[i], a[j]) = (a[j], a[i]); i++; j--; }
            }
            if (k <= j) right = j;
            else if (k >= i) left = i;
            else break;
        }
        return a[k];
    }

    /// <summary>The smallest box holding every pixel of the [height, width] map at or above the threshold (the whole map if none is).</summary>
    internal static PixelBox BoxAtOrAbove(ReadOnlySpan<float> map, int width, int height, float threshold)
    {
        int x0 = width, y0 = height, x1 = -1, y1 = -1;
        for (int y = 0; y < height; y++)
        {
            var row = map.Slice(y * width, width);
            for (int x = 0; x < width; x++)
            {
                if (row[x] < threshold) continue;
                if (x < x0) x0 = x;
                if (x > x1) x1 = x;
                if (y < y0) y0 = y;
                y1 = y;
            }
        }
        return x1 < 0 ? new PixelBox(0, 0, width, height) : new PixelBox(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
    }

    /// <summary>
    /// The input window that latent patch (row, column) of a prototype of side <paramref name="prototypeSize"/> sees,
    /// clipped to the input: the backbone's theoretical receptive field widened by the patch's extra cells.
    /// </summary>
    public static PixelBox ReceptiveWindow(ReceptiveField field, int row, int column, int prototypeSize, int inputSize)
    {
        int side = field.Size + (prototypeSize - 1) * field.Stride;
        double half = (field.Size - 1) / 2.0;
        int x0 = (int)Math.Round(field.Offset + column * field.Stride - half);
        int y0 = (int)Math.Round(field.Offset + row * field.Stride - half);
        int cx0 = Math.Clamp(x0, 0, inputSize), cy0 = Math.Clamp(y0, 0, inputSize);
        int cx1 = Math.Clamp(x0 + side, 0, inputSize), cy1 = Math.Clamp(y0 + side, 0, inputSize);
        return new PixelBox(cx0, cy0, cx1 - cx0, cy1 - cy0);
    }
}
