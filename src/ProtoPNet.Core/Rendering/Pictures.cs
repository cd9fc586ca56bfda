using ProtoPNet.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace ProtoPNet.Rendering;

/// <summary>
/// The few drawing operations the pictures need, done on pixels directly (ImageSharp 2.x has no free drawing
/// package): images from tensors, nearest-neighbour enlargement of small inputs, rectangles, and a jet heat map
/// blended the way the authors blend it (0.5·image + 0.3·heat map).
/// </summary>
internal static class Pictures
{
    public static readonly Rgb24 BoxColor = new(255, 255, 0);
    private static readonly PngEncoder Png = new();

    /// <summary>RGB [3,size,size] floats in [0,1] as an image.</summary>
    public static Image<Rgb24> FromChw(float[] chw, int size)
    {
        int plane = size * size;
        return Square(size, i => new Rgb24(Byte(chw[i]), Byte(chw[plane + i]), Byte(chw[2 * plane + i])));
    }

    /// <summary>A size × size image whose pixel at row-major index i is <paramref name="pixel"/>(i).</summary>
    private static Image<Rgb24> Square(int size, Func<int, Rgb24> pixel)
    {
        var image = new Image<Rgb24>(size, size);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < size; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < size; x++) row[x] = pixel(y * size + x);
            }
        });
        return image;
    }

    /// <summary>The image blended with a jet rendering of <paramref name="map"/> (same size, min–max scaled).</summary>
    public static Image<Rgb24> HeatOverlay(float[] chw, float[] map, int size)
    {
        float min = map.Min(), max = map.Max();
        float range = max > min ? max - min : 1f;
        int plane = size * size;
        return Square(size, i =>
        {
            var (r, g, b) = Jet((map[i] - min) / range);
            return new Rgb24(Byte(0.5f * chw[i] + 0.3f * r), Byte(0.5f * chw[plane + i] + 0.3f * g), Byte(0.5f * chw[2 * plane + i] + 0.3f * b));
        });
    }

    /// <summary>The jet colour map: dark blue → blue → cyan → yellow → red → dark red, components in [0,1].</summary>
    public static (float R, float G, float B) Jet(float v)
    {
        v = Math.Clamp(v, 0f, 1f);
        static float Ramp(float t) => Math.Clamp(1.5f - Math.Abs(t), 0f, 1f);
        return (Ramp(4 * v - 3), Ramp(4 * v - 2), Ramp(4 * v - 1));
    }

    /// <summary>Factor by which a picture of side <paramref name="size"/> is enlarged so that it is at least ~160 px.</summary>
    public static int DisplayScale(int size) => Math.Max(1, (int)Math.Ceiling(160.0 / size));

    /// <summary>Enlarges by an integer factor without blurring, so that small inputs (28 px) stay readable.</summary>
    public static void Enlarge(Image<Rgb24> image, int factor)
    {
        if (factor > 1) image.Mutate(x => x.Resize(image.Width * factor, image.Height * factor, KnownResamplers.NearestNeighbor));
    }

    /// <summary>Draws the outline of <paramref name="box"/> (in this image's pixels), lines <paramref name="thickness"/> wide, inside the box.</summary>
    public static void DrawBox(Image<Rgb24> image, PixelBox box, Rgb24 color, int thickness)
    {
        int x0 = Math.Clamp(box.X, 0, image.Width - 1), y0 = Math.Clamp(box.Y, 0, image.Height - 1);
        int x1 = Math.Clamp(box.X + box.Width - 1, 0, image.Width - 1), y1 = Math.Clamp(box.Y + box.Height - 1, 0, image.Height - 1);
        if (box.Width <= 0 || box.Height <= 0) return;
        image.ProcessPixelRows(rows =>
        {
            for (int y = y0; y <= y1; y++)
            {
                var row = rows.GetRowSpan(y);
                bool edgeRow = y - y0 < thickness || y1 - y < thickness;
                for (int x = x0; x <= x1; x++)
                    if (edgeRow || x - x0 < thickness || x1 - x < thickness) row[x] = color;
            }
        });
    }

    public static PixelBox Scale(PixelBox box, int factor) => new(box.X * factor, box.Y * factor, box.Width * factor, box.Height * factor);

    public static void Save(Image<Rgb24> image, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        image.Save(path, Png);
    }

    private static byte Byte(float v) => (byte)Math.Clamp((int)MathF.Round(v * 255f), 0, 255);
}
