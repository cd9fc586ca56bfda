using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace ProtoPNet.Tests.Data;

/// <summary>Scratch folders and small images for the data tests.</summary>
internal static class TestFiles
{
    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ProtoPNet.PS.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }

    public static string TempFolder()
    {
        var path = Path.Combine(Path.GetTempPath(), "protopnet-tests-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>An image whose every pixel differs from its neighbours: (x·7 + y·13) mod 256, x mod 251, y mod 241.</summary>
    public static Image<Rgb24> Pattern(int width, int height)
    {
        var image = new Image<Rgb24>(width, height);
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            image[x, y] = new Rgb24((byte)((x * 7 + y * 13) % 256), (byte)(x % 251), (byte)(y % 241));
        return image;
    }

    /// <summary>Black image with one bright square of side 2·r+1 centred on (cx, cy).</summary>
    public static Image<Rgb24> Dot(int width, int height, int cx, int cy, int r = 1)
    {
        var image = new Image<Rgb24>(width, height);
        for (int y = Math.Max(0, cy - r); y <= Math.Min(height - 1, cy + r); y++)
        for (int x = Math.Max(0, cx - r); x <= Math.Min(width - 1, cx + r); x++)
            image[x, y] = new Rgb24(255, 255, 255);
        return image;
    }

    /// <summary>Brightness-weighted centre of an image.</summary>
    public static (double X, double Y) Centroid(Image<Rgb24> image)
    {
        double sx = 0, sy = 0, s = 0;
        for (int y = 0; y < image.Height; y++)
        for (int x = 0; x < image.Width; x++)
        {
            double v = image[x, y].R;
            sx += v * x; sy += v * y; s += v;
        }
        return (sx / s, sy / s);
    }
}
