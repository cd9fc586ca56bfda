using ProtoPNet.Data;
using ProtoPNet.Persistence;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Projection;

/// <summary>
/// Writes the pictures of a pushed prototype, as the model saw its source image (input size):
/// prototype-J-source.png (the image with the 95th-percentile box), prototype-J-patch.png (the box's crop),
/// prototype-J-activation.png (the self-activation heat map over the image). Each file is written atomically.
/// </summary>
public static class PrototypeRenderer
{
    private static readonly PngEncoder Encoder = new() { CompressionLevel = PngCompressionLevel.BestSpeed };

    /// <param name="pixels">RGB [3, S, S] in [0, 1], before normalization.</param>
    /// <param name="box">The box in input pixels.</param>
    /// <param name="activation">The upsampled activation map [S, S].</param>
    public static void Render(string directory, int prototype, Tensor pixels, PixelBox box, Tensor activation)
    {
        using var image = ToImage(pixels);
        using (var framed = image.Clone())
        {
            DrawBox(framed, box, new Rgb24(255, 255, 0));
            Save(framed, Path.Combine(directory, $"prototype-{prototype}-source.png"));
        }
        using (var crop = image.Clone(x => x.Crop(new Rectangle(box.X, box.Y, Math.Max(1, box.Width), Math.Max(1, box.Height)))))
            Save(crop, Path.Combine(directory, $"prototype-{prototype}-patch.png"));
        using (var overlay = Overlay(image, activation))
            Save(overlay, Path.Combine(directory, $"prototype-{prototype}-activation.png"));
    }

    private static void Save(Image<Rgb24> image, string path) => AtomicFile.Write(path, stream => image.Save(stream, Encoder));

    public static Image<Rgb24> ToImage(Tensor pixels)
    {
        int h = (int)pixels.shape[1], w = (int)pixels.shape[2];
        using var bytes = (pixels.detach().cpu().clamp(0, 1) * 255).round().to(ScalarType.Byte).permute(1, 2, 0).contiguous();
        var data = bytes.data<byte>().ToArray();
        return Image.LoadPixelData<Rgb24>(data, w, h);
    }

    private static void DrawBox(Image<Rgb24> image, PixelBox box, Rgb24 color)
    {
        int x1 = Math.Min(image.Width - 1, box.X + box.Width - 1), y1 = Math.Min(image.Height - 1, box.Y + box.Height - 1);
        image.ProcessPixelRows(rows =>
        {
            for (int y = box.Y; y <= y1; y++)
            {
                var row = rows.GetRowSpan(y);
                if (y == box.Y || y == y1) for (int x = box.X; x <= x1; x++) row[x] = color;
                else { row[box.X] = color; row[x1] = color; }
            }
        });
    }

    /// <summary>0.5 · image + 0.5 · jet(normalized activation), the authors' kind of overlay.</summary>
    private static Image<Rgb24> Overlay(Image<Rgb24> image, Tensor activation)
    {
        using var cpu = activation.detach().to(ScalarType.Float32).cpu().contiguous();
        var a = cpu.data<float>().ToArray();
        float min = a.Min(), max = a.Max(), range = max > min ? max - min : 1;
        var result = image.Clone();
        int w = result.Width;
        result.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < w; x++)
                {
                    var (r, g, b) = Jet((a[y * w + x] - min) / range);
                    row[x] = new Rgb24((byte)(0.5 * row[x].R + 0.5 * r), (byte)(0.5 * row[x].G + 0.5 * g), (byte)(0.5 * row[x].B + 0.5 * b));
                }
            }
        });
        return result;
    }

    private static (double R, double G, double B) Jet(double v)
    {
        double Channel(double offset) => 255 * Math.Clamp(1.5 - Math.Abs(4 * v - offset), 0, 1);
        return (Channel(3), Channel(2), Channel(1));
    }
}
