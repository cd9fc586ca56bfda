using ProtoPNet.Data;
using ProtoPNet.Model.Backbones;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ProtoPNet.Model;

/// <summary>How a box in the input image is drawn for a prototype's best-matching latent patch.</summary>
public enum BoxMethod
{
    /// <summary>
    /// The exact input window the best-matching latent patch sees (the backbone's receptive field at that cell, widened by
    /// the prototype's extra cells, clipped to the image). It shows everything that could have produced the match.
    /// </summary>
    ReceptiveField,
    /// <summary>
    /// The paper's box: the prototype's activation map upsampled bicubically to the input size, and the smallest box
    /// holding every pixel at or above its 95th percentile. Only as local as the backbone's receptive field.
    /// </summary>
    Percentile,
}

/// <summary>
/// The one place that answers "where in the input image is this latent patch, or this activation": the receptive
/// window of a latent cell, and the paper's 95th-percentile box of an upsampled activation map. Push, explanations
/// and the nearest-patch search all draw their boxes here, in model-input pixels (map them to the original image
/// with <see cref="PixelBox.ToOriginal"/>). See docs/algorithm.md, "Boxes".
/// </summary>
public static class ImageRegion
{
    /// <summary>What a box of <paramref name="method"/> is, in a page's words (every HTML page that draws boxes says it).</summary>
    public static string Describe(BoxMethod method) => method == BoxMethod.Percentile
        ? "the smallest rectangle holding the top 5 % of the prototype's upsampled activation map (the paper's box)"
        : "the receptive window of the best-matching latent patch (every input pixel that patch sees)";

    /// <summary>The authors' percentile: pixels at or above it make the box.</summary>
    public const double Percentile = 95;

    /// <summary>
    /// The input window latent patch (row, column) of <paramref name="model"/> sees, clipped to the input: the
    /// backbone cell's receptive field widened by the prototype's extra cells (<see cref="ProtoPNetModel.PatchReceptiveField"/>).
    /// </summary>
    public static PixelBox ReceptiveWindow(ProtoPNetModel model, int row, int column) =>
        ReceptiveWindow(model.PatchReceptiveField, row, column, model.ImageSize);

    /// <summary>The window of a patch whose receptive field is <paramref name="patch"/>, clipped to a square input of side <paramref name="inputSize"/>.</summary>
    public static PixelBox ReceptiveWindow(ReceptiveField patch, int row, int column, int inputSize)
    {
        double half = (patch.Size - 1) / 2.0;
        int x0 = (int)Math.Round(patch.Offset + column * patch.Stride - half);
        int y0 = (int)Math.Round(patch.Offset + row * patch.Stride - half);
        int cx0 = Math.Clamp(x0, 0, inputSize), cy0 = Math.Clamp(y0, 0, inputSize);
        int cx1 = Math.Clamp(x0 + patch.Size, 0, inputSize), cy1 = Math.Clamp(y0 + patch.Size, 0, inputSize);
        return new PixelBox(cx0, cy0, cx1 - cx0, cy1 - cy0);
    }

    /// <summary>Similarity at every patch (the activation map): log((d+1)/(d+ε)) or −d, from distance maps of any shape.</summary>
    public static Tensor Activations(Tensor distanceMaps, ProtoPNetNetwork network) =>
        PrototypeDistances.Similarity(distanceMaps, network.SimilarityKind, network.Epsilon);

    /// <summary>Upsamples an activation map [h, w] to [size, size] (bicubic, align_corners false, as the authors' cv2.INTER_CUBIC).</summary>
    public static Tensor Upsample(Tensor activation, int size)
    {
        using var scope = NewDisposeScope();
        var map = activation.to(ScalarType.Float32).view(1, 1, activation.shape[0], activation.shape[1]);
        var up = interpolate(map, [size, size], mode: InterpolationMode.Bicubic, align_corners: false);
        return up.view(size, size).MoveToOuterDisposeScope();
    }

    /// <summary>The smallest box holding every pixel of an input-sized map [H, W] at or above its <paramref name="percentile"/>-th percentile (NaNs ignored).</summary>
    public static PixelBox PercentileBox(Tensor upsampledMap, double percentile = Percentile)
    {
        int h = (int)upsampledMap.shape[0], w = (int)upsampledMap.shape[1];
        using var cpu = upsampledMap.detach().to(ScalarType.Float32).cpu().contiguous();
        var values = cpu.data<float>().ToArray();
        var finite = values.Where(v => !float.IsNaN(v)).ToArray();
        if (finite.Length == 0) return new PixelBox(0, 0, w, h);
        return BoxAtOrAbove(values, w, h, PercentileInPlace(finite, Math.Clamp(percentile, 0, 100)));
    }

    /// <summary>
    /// Upsamples activation maps [n,h,w] to [n,size,size] and finds each one's 95th-percentile box in input pixels.
    /// <paramref name="keepMaps"/> returns the upsampled maps too (for heat maps).
    /// </summary>
    public static PixelBox[] PercentileBoxes(Tensor activations, int size, out float[][]? upsampled, bool keepMaps = false)
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
}
