using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Model.Backbones;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ProtoPNet.Explanation;

/// <summary>A rectangle in pixels: X, Y of the top-left corner, Width, Height (exclusive right/bottom edges at X+Width, Y+Height).</summary>
public readonly record struct PixelBox(int X, int Y, int Width, int Height)
{
    public bool Contains(int x, int y) => x >= X && x < X + Width && y >= Y && y < Y + Height;

    /// <summary>This box (in model-input pixels) in the original image's pixels.</summary>
    public PixelBox ToOriginal(ImageGeometry geometry)
    {
        var (x, y, w, h) = geometry.ToOriginal(X, Y, Width, Height);
        return new PixelBox(x, y, w, h);
    }

    /// <summary>A box in original-image pixels mapped into model-input pixels (the inverse of <see cref="ToOriginal"/>, rounded outward).</summary>
    public PixelBox ToInput(ImageGeometry g)
    {
        double sx = (double)g.InputSize / g.CropWidth, sy = (double)g.InputSize / g.CropHeight;
        int x0 = Math.Clamp((int)Math.Floor((X - g.CropX) * sx), 0, g.InputSize);
        int y0 = Math.Clamp((int)Math.Floor((Y - g.CropY) * sy), 0, g.InputSize);
        int x1 = Math.Clamp((int)Math.Ceiling((X + Width - g.CropX) * sx), 0, g.InputSize);
        int y1 = Math.Clamp((int)Math.Ceiling((Y + Height - g.CropY) * sy), 0, g.InputSize);
        return new PixelBox(x0, y0, Math.Max(0, x1 - x0), Math.Max(0, y1 - y0));
    }
}

/// <summary>
/// Where a prototype fires in an image, the way the authors draw it: the prototype's similarity at every latent
/// patch (its activation map), upsampled to the input size, and the smallest box holding every pixel at or above
/// the map's 95th percentile. (Projection/ActivationBox does the same for push; this one works on many maps at once.)
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
        // Chunks bound the memory of [chunk, size, size] at large input sizes.
        int chunk = Math.Max(1, 4_000_000 / (size * size));
        for (int start = 0; start < n; start += chunk)
        {
            using var scope = NewDisposeScope();
            int count = Math.Min(chunk, n - start);
            var maps = activations.narrow(0, start, count).to(ScalarType.Float32).unsqueeze(1);
            var up = interpolate(maps, [size, size], mode: InterpolationMode.Bicubic, align_corners: false).view(count, size * size).cpu();
            var threshold = PercentileOfRows(up, Percentile);                            // [count, 1]
            var mask = up.ge(threshold).view(count, size, size);
            var rows = mask.any(2).to(ScalarType.Float32);                               // [count, size]
            var cols = mask.any(1).to(ScalarType.Float32);
            var top = rows.argmax(1).data<long>().ToArray();
            var bottom = rows.flip(1).argmax(1).data<long>().ToArray();
            var left = cols.argmax(1).data<long>().ToArray();
            var right = cols.flip(1).argmax(1).data<long>().ToArray();
            for (int i = 0; i < count; i++)
            {
                int y0 = (int)top[i], y1 = size - 1 - (int)bottom[i], x0 = (int)left[i], x1 = size - 1 - (int)right[i];
                boxes[start + i] = new PixelBox(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
            }
            if (upsampled is not null)
            {
                var values = up.data<float>().ToArray();
                for (int i = 0; i < count; i++) upsampled[start + i] = values.AsSpan(i * size * size, size * size).ToArray();
            }
        }
        return boxes;
    }

    /// <summary>numpy.percentile with linear interpolation, per row of [n, N]: [n, 1].</summary>
    private static Tensor PercentileOfRows(Tensor rows, double percentile)
    {
        long count = rows.shape[1];
        double position = percentile / 100 * (count - 1);
        long lower = (long)Math.Floor(position), upper = (long)Math.Ceiling(position);
        var (low, _) = rows.kthvalue(lower + 1, 1, keepdim: true);
        if (upper == lower) return low;
        var (high, _) = rows.kthvalue(upper + 1, 1, keepdim: true);
        return low + (high - low) * (position - lower);
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
