using ProtoPNet.Model;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using ProtoPNet.Runtime;
using static TorchSharp.torch;

namespace ProtoPNet.Data;

/// <summary>What a header read says about an image file, with its size as displayed (EXIF orientation applied).</summary>
public sealed record ImageProbe(string Path, string Format, int Width, int Height, int StoredWidth, int StoredHeight, int Orientation);

/// <summary>
/// Decodes image files through an ImageSharp configuration that knows only PNG, JPEG, BMP, GIF and WebP
/// (no TIFF: its decoder has open advisories), refuses images above a pixel cap before decoding them,
/// and turns any pixel format into RGB.
/// </summary>
/// <remarks>
/// Error ids: ImageNotFound, EmptyImageFile (zero bytes), UnsupportedImageFormat (not one of the five formats,
/// e.g. a text file named .jpg), ImageTooLarge (the header declares more than <see cref="MaxPixels"/>),
/// ImageDecodeFailed (the header was readable but the pixels were not: truncated or corrupt data; a JPEG cut short,
/// which ImageSharp would fill with grey, is recognized by its missing end-of-image marker).
/// Pixel formats: ImageSharp converts grayscale, palette, alpha (dropped, not composited), 16-bit and CMYK/YCCK JPEG
/// to Rgb24 on load. Width and height in geometry are those of the image as displayed, after EXIF orientation.
/// </remarks>
public static class ImageDecoder
{
    /// <summary>Largest accepted image: 100 megapixels.</summary>
    public static long MaxPixels { get; set; } = 100_000_000;

    public static Configuration Configuration { get; } = CreateConfiguration();

    private static Configuration CreateConfiguration()
    {
        var configuration = new Configuration(
            new PngConfigurationModule(), new JpegConfigurationModule(), new BmpConfigurationModule(),
            new GifConfigurationModule(), new WebpConfigurationModule());
        // Only the first frame of an animated GIF is used: do not let a thousand frames pass a per-frame pixel cap.
        configuration.ImageFormatsManager.SetDecoder(GifFormat.Instance,
            new GifDecoder { DecodingMode = SixLabors.ImageSharp.Metadata.FrameDecodingMode.First });
        return configuration;
    }

    /// <summary>Reads only the header: format, size and orientation. Throws with the error ids above.</summary>
    public static ImageProbe Probe(string path)
    {
        long length;
        try
        {
            length = new FileInfo(path).Length;
        }
        catch (FileNotFoundException e)
        {
            throw NotFound(path, e);
        }
        if (!File.Exists(path)) throw NotFound(path, null);
        if (length == 0) throw Empty(path);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
            return Check(path, () => (Image.Identify(Configuration, stream, out var format), format));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw NotFound(path, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ProtoPNetException("ImageReadFailed", ErrorKind.ReadError, $"Cannot read image file '{path}': {e.Message}", path, e);
        }
    }

    private static ProtoPNetException NotFound(string path, Exception? e) =>
        new("ImageNotFound", ErrorKind.ObjectNotFound, $"Image file '{path}' does not exist.", path, e);

    private static ProtoPNetException Empty(string path) =>
        new("EmptyImageFile", ErrorKind.InvalidData, $"Image file '{path}' is empty (0 bytes).", path);

    private static (ImageProbe Probe, byte[] Bytes) ProbeCore(string path, byte[]? bytes)
    {
        bytes ??= ReadAll(path);
        if (bytes.Length == 0) throw Empty(path);
        return (Check(path, () => (Image.Identify(Configuration, bytes, out var format), format)), bytes);
    }

    private static ImageProbe Check(string path, Func<(IImageInfo? Info, IImageFormat? Format)> identify)
    {
        try
        {
            IImageInfo? info;
            IImageFormat? format;
            try
            {
                (info, format) = identify();
            }
            catch (Exception e) when (e is UnknownImageFormatException or NotSupportedException)
            {
                (info, format) = (null, null);
            }
            if (info is null || format is null)
                throw new ProtoPNetException("UnsupportedImageFormat", ErrorKind.InvalidData,
                    $"'{path}' is not an image in a supported format (PNG, JPEG, BMP, GIF, WebP).", path);
            if (info.Width <= 0 || info.Height <= 0)
                throw new ProtoPNetException("ImageDecodeFailed", ErrorKind.InvalidData,
                    $"'{path}' declares an empty size {info.Width}×{info.Height}.", path);
            if ((long)info.Width * info.Height > MaxPixels)
                throw new ProtoPNetException("ImageTooLarge", ErrorKind.InvalidData,
                    $"'{path}' declares {info.Width}×{info.Height} pixels, more than the limit of {MaxPixels:N0}.", path);
            int orientation = OrientationOf(info);
            var (w, h) = orientation >= 5 ? (info.Height, info.Width) : (info.Width, info.Height);
            return new ImageProbe(path, format.Name, w, h, info.Width, info.Height, orientation);
        }
        catch (ProtoPNetException) { throw; }
        catch (Exception e) when (e is InvalidImageContentException or ImageFormatException or ArgumentException or InvalidOperationException
                                      or IndexOutOfRangeException or EndOfStreamException)
        {
            throw new ProtoPNetException("ImageDecodeFailed", ErrorKind.InvalidData, $"Cannot read the header of image '{path}': {e.Message}", path, e);
        }
    }

    private static byte[] ReadAll(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw NotFound(path, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ProtoPNetException("ImageReadFailed", ErrorKind.ReadError, $"Cannot read image file '{path}': {e.Message}", path, e);
        }
    }

    private static int OrientationOf(IImageInfo info)
    {
        try
        {
            int o = info.Metadata.ExifProfile?.GetValue(ExifTag.Orientation)?.Value ?? 1;
            return o is >= 1 and <= 8 ? o : 1;
        }
        catch (Exception)
        {
            return 1; // a broken EXIF block is not a reason to lose the image
        }
    }

    /// <summary>
    /// Decodes a file to RGB (oriented as displayed), cropped to <paramref name="crop"/> (in displayed pixels, clipped
    /// to the image; an empty intersection keeps the whole image). <paramref name="applied"/> is the crop actually used.
    /// </summary>
    public static Image<Rgb24> DecodeRgb(string path, Rectangle? crop, out ImageGeometry applied)
    {
        var (probe, bytes) = ProbeCore(path, null);
        // ImageSharp fills the missing part of a cut-off JPEG with grey instead of failing: refuse it here.
        if (probe.Format == "JPEG" && IsTruncatedJpeg(bytes))
            throw new ProtoPNetException("ImageDecodeFailed", ErrorKind.InvalidData,
                $"Cannot decode image '{path}': the JPEG is truncated (no end-of-image marker after its last scan).", path);
        Image<Rgb24> image;
        try
        {
            image = Image.Load<Rgb24>(Configuration, bytes);
        }
        catch (Exception e) when (e is UnknownImageFormatException or InvalidImageContentException or ImageFormatException
                                      or NotSupportedException or InvalidOperationException or ArgumentException
                                      or IndexOutOfRangeException or EndOfStreamException)
        {
            throw new ProtoPNetException("ImageDecodeFailed", ErrorKind.InvalidData, $"Cannot decode image '{path}': {e.Message}", path, e);
        }
        try
        {
            if (probe.Orientation != 1) image.Mutate(x => x.AutoOrient());
            var whole = new Rectangle(0, 0, image.Width, image.Height);
            var used = crop is Rectangle r ? Rectangle.Intersect(r, whole) : whole;
            if (used.Width <= 0 || used.Height <= 0) used = whole;
            if (used != whole) image.Mutate(x => x.Crop(used));
            applied = new ImageGeometry(whole.Width, whole.Height, used.X, used.Y, used.Width, used.Height, 0);
            return image;
        }
        catch
        {
            image.Dispose();
            throw;
        }
    }

    /// <summary>
    /// True when no end-of-image marker (FF D9) follows the last start-of-scan marker (FF DA). Inside entropy-coded data
    /// every FF byte is stuffed (FF 00), so neither marker can appear there by accident; an EXIF thumbnail's markers come
    /// before the main scan and do not count.
    /// </summary>
    public static bool IsTruncatedJpeg(ReadOnlySpan<byte> bytes)
    {
        int lastScan = bytes.LastIndexOf((ReadOnlySpan<byte>)[0xFF, 0xDA]);
        int lastEnd = bytes.LastIndexOf((ReadOnlySpan<byte>)[0xFF, 0xD9]);
        return lastScan < 0 || lastEnd < lastScan;
    }

    /// <summary>Decodes a file to RGB, cropped to <paramref name="crop"/> when given.</summary>
    public static Image<Rgb24> DecodeRgb(string path, Rectangle? crop = null) => DecodeRgb(path, crop, out _);

    /// <summary>Decodes, crops, resizes to size × size and returns [3, size, size] floats in [0, 1] with the geometry.</summary>
    public static LoadedImage Load(string path, int size, Rectangle? crop = null)
    {
        var (rgb, geometry) = LoadRgb(path, size, crop);
        return new LoadedImage(ToTensor(rgb, size, size), geometry);
    }

    /// <summary>Decodes, crops and resizes to size × size; returns interleaved RGB bytes (H·W·3) with the geometry.</summary>
    public static (byte[] Rgb, ImageGeometry Geometry) LoadRgb(string path, int size, Rectangle? crop = null)
    {
        using var image = DecodeRgb(path, crop, out var applied);
        if (image.Width != size || image.Height != size) image.Mutate(x => x.Resize(size, size, KnownResamplers.Triangle));
        return (ToBytes(image), applied with { InputSize = size });
    }

    /// <summary>Interleaved RGB bytes of an image, row by row.</summary>
    public static byte[] ToBytes(Image<Rgb24> image)
    {
        var bytes = new byte[image.Width * image.Height * 3];
        image.CopyPixelDataTo(bytes);
        return bytes;
    }

    /// <summary>[3, H, W] float32 in [0, 1] from interleaved RGB bytes.</summary>
    public static Tensor ToTensor(byte[] rgb, int height, int width)
    {
        int plane = height * width;
        var data = new float[3 * plane];
        const float inv = 1f / 255f;
        for (int i = 0, j = 0; i < plane; i++, j += 3)
        {
            data[i] = rgb[j] * inv;
            data[plane + i] = rgb[j + 1] * inv;
            data[2 * plane + i] = rgb[j + 2] * inv;
        }
        return tensor(data, [3, height, width]);
    }

    /// <summary>[3, H, W] float32 in [0, 1].</summary>
    public static Tensor ToTensor(Image<Rgb24> image) => ToTensor(ToBytes(image), image.Height, image.Width);

    /// <summary>An image from a [3, H, W] (or [1, H, W]) float tensor in [0, 1].</summary>
    public static Image<Rgb24> FromTensor(Tensor chw)
    {
        int h = (int)chw.shape[1], w = (int)chw.shape[2];
        using var scope = NewDisposeScope();
        var bytes = chw.detach().cpu().Clamp(0, 1).Mul(255).round_().to(ScalarType.Byte).expand(3, h, w).permute(1, 2, 0).contiguous();
        var data = bytes.data<byte>().ToArray();
        return Image.LoadPixelData<Rgb24>(data, w, h);
    }
}
