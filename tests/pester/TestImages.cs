// Pester helper (loaded with Add-Type): writes small real images, good and bad, with ImageSharp.
using System;
using System.IO;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

public static class TestImages
{
    /// <summary>A w×h image whose pixels all differ: R = (7x + 13y + seed) mod 256, G = x, B = y.</summary>
    public static Image<Rgb24> Pattern(int width, int height, int seed)
    {
        var image = new Image<Rgb24>(width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                image[x, y] = new Rgb24((byte)((x * 7 + y * 13 + seed) % 256), (byte)(x % 256), (byte)(y % 256));
        return image;
    }

    public static void WritePng(string path, int width, int height, int seed)
    {
        using var image = Pattern(width, height, seed);
        image.SaveAsPng(path);
    }

    public static void WriteJpeg(string path, int width, int height, int seed)
    {
        using var image = Pattern(width, height, seed);
        image.SaveAsJpeg(path);
    }

    /// <summary>The first <paramref name="fraction"/> of a JPEG's bytes.</summary>
    public static void WriteTruncatedJpeg(string path, int width, int height, double fraction)
    {
        using var image = Pattern(width, height, 1);
        using var memory = new MemoryStream();
        image.SaveAsJpeg(memory);
        var bytes = memory.ToArray();
        File.WriteAllBytes(path, bytes[..(int)(bytes.Length * fraction)]);
    }

    /// <summary>A 16-bit-per-channel RGBA PNG; pixel (1, 1) is (65535, 0, 32896) = rgb(255, 0, 128) in 8 bits.</summary>
    public static void Write16BitPng(string path)
    {
        using var image = new Image<Rgba64>(3, 3);
        image[1, 1] = new Rgba64(65535, 0, 32896, 65535);
        image.SaveAsPng(path, new PngEncoder { BitDepth = PngBitDepth.Bit16, ColorType = PngColorType.RgbWithAlpha });
    }

    public static void WriteOnePixel(string path, byte r, byte g, byte b)
    {
        using var image = new Image<Rgb24>(1, 1);
        image[0, 0] = new Rgb24(r, g, b);
        image.SaveAsPng(path);
    }

    /// <summary>The interleaved RGB bytes of a crop of an image file, by hand: what a crop must give.</summary>
    public static byte[] CropBytes(string path, int x, int y, int width, int height)
    {
        using var image = Image.Load<Rgb24>(path);
        var bytes = new byte[width * height * 3];
        for (int j = 0; j < height; j++)
            for (int i = 0; i < width; i++)
            {
                var p = image[x + i, y + j];
                int at = (j * width + i) * 3;
                bytes[at] = p.R; bytes[at + 1] = p.G; bytes[at + 2] = p.B;
            }
        return bytes;
    }

    public static byte[] Pixel(string path, int x, int y)
    {
        using var image = Image.Load<Rgb24>(path);
        var p = image[x, y];
        return new[] { p.R, p.G, p.B };
    }
}
