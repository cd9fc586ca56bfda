using ProtoPNet.Data;
using ProtoPNet.Persistence;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using ProtoPNet.Runtime;
using static TorchSharp.torch;

namespace ProtoPNet.Rendering;

/// <summary>What one pushed prototype's pictures are made of, in managed memory (so they can be encoded off torch).</summary>
/// <param name="Pixels">RGB [3, Size, Size] in [0, 1], the source image as the model saw it (before normalization).</param>
/// <param name="Box">The 95th-percentile box in those pixels.</param>
/// <param name="Activation">The upsampled self-activation map [Size, Size].</param>
public sealed record PrototypePicture(int Prototype, float[] Pixels, int Size, PixelBox Box, float[] Activation)
{
    public static PrototypePicture Capture(int prototype, Tensor pixels, PixelBox box, Tensor activation)
    {
        using var scope = NewDisposeScope();
        return new(prototype, pixels.detach().to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray(), (int)pixels.shape[2], box,
            activation.detach().to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray());
    }
}

/// <summary>
/// Writes the pictures of pushed prototypes, as the model saw their source images (input size):
/// prototype-J-source.png (the image with the 95th-percentile box), prototype-J-patch.png (the box's crop),
/// prototype-J-activation.png (the self-activation heat map over the image).
/// </summary>
public static class PrototypeRenderer
{
    private static readonly PngEncoder Encoder = new() { CompressionLevel = PngCompressionLevel.BestSpeed };

    /// <summary>Encodes the pictures on all cores (pure ImageSharp work: torch is idle meanwhile).</summary>
    public static void Render(string directory, IReadOnlyList<PrototypePicture> pictures, CancellationToken cancel = default) =>
        Parallel.ForEach(pictures, new ParallelOptions { CancellationToken = cancel }, picture => Render(directory, picture));

    public static void Render(string directory, PrototypePicture picture)
    {
        int j = picture.Prototype;
        var box = picture.Box;
        using var image = Pictures.FromChw(picture.Pixels, picture.Size);
        using (var framed = image.Clone())
        {
            Pictures.DrawBox(framed, box, Pictures.BoxColor, 1);
            Save(framed, Path.Combine(directory, $"prototype-{j}-source.png"));
        }
        using (var crop = image.Clone(x => x.Crop(new Rectangle(box.X, box.Y, Math.Max(1, box.Width), Math.Max(1, box.Height)))))
            Save(crop, Path.Combine(directory, $"prototype-{j}-patch.png"));
        using (var overlay = Pictures.HeatOverlay(picture.Pixels, picture.Activation, picture.Size))
            Save(overlay, Path.Combine(directory, $"prototype-{j}-activation.png"));
    }

    // Atomic, so no reader sees half a PNG, but not flushed to disk one by one: thousands of fsyncs cost more than the
    // push itself, and the pictures can always be made again from the model (Get-Prototype -OutputDirectory).
    private static void Save(Image<Rgb24> image, string path) =>
        AtomicFile.Write(path, stream => image.Save(stream, Encoder), durable: false);
}
