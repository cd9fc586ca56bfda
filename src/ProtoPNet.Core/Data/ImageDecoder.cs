using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using static TorchSharp.torch;

namespace ProtoPNet.Data;

/// <summary>
/// Decodes image files through an ImageSharp configuration that knows only PNG, JPEG, BMP, GIF and WebP
/// (no TIFF: its decoder has open advisories), refuses images above a pixel cap before decoding them,
/// and turns any pixel format into RGB.
/// </summary>
public static class ImageDecoder
{
    /// <summary>Largest accepted image: 100 megapixels.</summary>
    public static long MaxPixels { get; set; } = 100_000_000;

    public static Configuration Configuration { get; } = new(
        new PngConfigurationModule(), new JpegConfigurationModule(), new BmpConfigurationModule(),
        new GifConfigurationModule(), new WebpConfigurationModule());

    /// <summary>Decodes a file to RGB, cropped to <paramref name="crop"/> when given.</summary>
    public static Image<Rgb24> DecodeRgb(string path, Rectangle? crop = null)
    {
        if (!File.Exists(path))
            throw new ProtoPNetException("ImageNotFound", ErrorKind.ObjectNotFound, $"Image file '{path}' does not exist.", path);
        try
        {
            var info = Identify(path)
                ?? throw new ProtoPNetException("UnsupportedImageFormat", ErrorKind.InvalidData,
                    $"'{path}' is not an image in a supported format (PNG, JPEG, BMP, GIF, WebP).", path);
            if ((long)info.Width * info.Height > MaxPixels)
                throw new ProtoPNetException("ImageTooLarge", ErrorKind.InvalidData,
                    $"'{path}' declares {info.Width}×{info.Height} pixels, more than the limit of {MaxPixels:N0}.", path);
            var image = Image.Load<Rgb24>(Configuration, path);
            image.Mutate(x => x.AutoOrient());
            if (crop is Rectangle r)
            {
                var clipped = Rectangle.Intersect(r, new Rectangle(0, 0, image.Width, image.Height));
                if (clipped.Width > 0 && clipped.Height > 0) image.Mutate(x => x.Crop(clipped));
            }
            return image;
        }
        catch (ProtoPNetException) { throw; }
        catch (Exception e) when (e is UnknownImageFormatException or InvalidImageContentException or ImageFormatException
                                      or NotSupportedException or IOException or InvalidOperationException or ArgumentException)
        {
            throw new ProtoPNetException("ImageDecodeFailed", ErrorKind.InvalidData, $"Cannot decode image '{path}': {e.Message}", path, e);
        }
    }

    /// <summary>Decodes, crops, resizes to size × size and returns [3, size, size] floats in [0, 1] with the geometry.</summary>
    public static LoadedImage Load(string path, int size, Rectangle? crop = null)
    {
        using var image = DecodeRgb(path, crop);
        // The geometry needs the original size and the crop actually applied.
        var info = Identify(path)!;
        var (ow, oh) = OrientedSize(info);
        var applied = crop is Rectangle c ? Rectangle.Intersect(c, new Rectangle(0, 0, ow, oh)) : new Rectangle(0, 0, ow, oh);
        if (applied.Width <= 0 || applied.Height <= 0) applied = new Rectangle(0, 0, ow, oh);
        image.Mutate(x => x.Resize(size, size, KnownResamplers.Triangle));
        return new LoadedImage(ToTensor(image), new ImageGeometry(ow, oh, applied.X, applied.Y, applied.Width, applied.Height, size));
    }

    private static IImageInfo? Identify(string path)
    {
        using var stream = File.OpenRead(path);
        return Image.Identify(Configuration, stream);
    }

    private static (int Width, int Height) OrientedSize(IImageInfo info)
    {
        var orientation = info.Metadata.ExifProfile?.GetValue(SixLabors.ImageSharp.Metadata.Profiles.Exif.ExifTag.Orientation)?.Value ?? 1;
        return orientation >= 5 ? (info.Height, info.Width) : (info.Width, info.Height);
    }

    /// <summary>[3, H, W] float32 in [0, 1].</summary>
    public static Tensor ToTensor(Image<Rgb24> image)
    {
        int w = image.Width, h = image.Height;
        var data = new float[3 * h * w];
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < h; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < w; x++)
                {
                    data[y * w + x] = row[x].R / 255f;
                    data[h * w + y * w + x] = row[x].G / 255f;
                    data[2 * h * w + y * w + x] = row[x].B / 255f;
                }
            }
        });
        return tensor(data, [3, h, w]);
    }
}
