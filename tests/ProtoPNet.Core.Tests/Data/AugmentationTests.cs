using ProtoPNet.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;

namespace ProtoPNet.Tests.Data;

public class AugmentationTests
{
    private static byte[] Bytes(Image<Rgb24> image) => ImageDecoder.ToBytes(image);

    [Fact]
    public void SameSeedSameImageOtherSeedOtherImage()
    {
        using var source = TestFiles.Pattern(40, 30);
        byte[] Run(int seed)
        {
            using var copy = source.Clone();
            var random = new Random(seed);
            for (int i = 0; i < 3; i++) ImageAugmentation.Authors.Apply(copy, random);
            return Bytes(copy);
        }
        Assert.Equal(Run(7), Run(7));
        Assert.NotEqual(Run(7), Run(8));
        // Every transform keeps the size.
        using var one = source.Clone();
        ImageAugmentation.Authors.Apply(one, new Random(1));
        Assert.Equal((40, 30), (one.Width, one.Height));
    }

    [Fact]
    public void FlipMirrorsEveryRow()
    {
        using var image = TestFiles.Pattern(17, 9);
        using var original = image.Clone();
        ImageAugmentation.FlipHorizontal(image);
        for (int y = 0; y < 9; y++)
        for (int x = 0; x < 17; x++)
            Assert.Equal(original[16 - x, y], image[x, y]);
    }

    [Fact]
    public void RotationByNinetyDegreesTurnsClockwise()
    {
        // A square: the zoom for 90° is 1, so the dot at (10, 5) of a 41×41 image goes to (35, 10): clockwise with y down.
        using var image = TestFiles.Dot(41, 41, 10, 5);
        ImageAugmentation.Rotate(image, 90);
        var (x, y) = TestFiles.Centroid(image);
        Assert.InRange(x, 34.5, 35.5);
        Assert.InRange(y, 9.5, 10.5);
    }

    [Fact]
    public void RotationByFifteenDegreesMovesADotWhereTheFormulaSays()
    {
        int w = 81, h = 61;
        double cx = 40, cy = 30, px = 55, py = 40, t = 15 * Math.PI / 180;
        double zoom = Math.Max(Math.Cos(t) + (double)h / w * Math.Sin(t), (double)w / h * Math.Sin(t) + Math.Cos(t));
        double ex = cx + zoom * ((px - cx) * Math.Cos(t) - (py - cy) * Math.Sin(t));
        double ey = cy + zoom * ((px - cx) * Math.Sin(t) + (py - cy) * Math.Cos(t));
        using var image = TestFiles.Dot(w, h, (int)px, (int)py, 2);
        ImageAugmentation.Rotate(image, 15);
        var (x, y) = TestFiles.Centroid(image);
        Assert.InRange(x, ex - 0.75, ex + 0.75);
        Assert.InRange(y, ey - 0.75, ey + 0.75);
        // The zoom leaves no empty corner: the rotated pattern covers every corner pixel.
        using var pattern = new Image<Rgb24>(w, h, new Rgb24(200, 200, 200));
        ImageAugmentation.Rotate(pattern, 15);
        foreach (var (qx, qy) in new[] { (0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1) })
            Assert.True(pattern[qx, qy].R > 100, $"corner ({qx},{qy}) is empty");
    }

    [Fact]
    public void HorizontalShearShiftsRowsByTheirDistanceFromTheCentre()
    {
        int w = 61, h = 61;
        double k = Math.Tan(10 * Math.PI / 180), zoom = 1 + k * h / w;
        // Dot below the centre: x moves right by k·(y − cy), then everything is zoomed about the centre.
        double px = 30, py = 50, ex = 30 + zoom * (px - 30 + k * (py - 30)), ey = 30 + zoom * (py - 30);
        using var image = TestFiles.Dot(w, h, (int)px, (int)py, 2);
        ImageAugmentation.Shear(image, 10, horizontal: true);
        var (x, y) = TestFiles.Centroid(image);
        Assert.InRange(x, ex - 0.75, ex + 0.75);
        Assert.InRange(y, ey - 0.75, ey + 0.75);
    }

    [Fact]
    public void SkewTakesCornersWhereAskedAndMovesADotThroughTheHomography()
    {
        int w = 60, h = 40;
        var corners = new[] { new PointF(0, -8), new PointF(59, 0), new PointF(59, 39), new PointF(0, 47) }; // left side taller
        var m = ImageAugmentation.SkewMatrix(w, h, corners);
        var from = new[] { new PointF(0, 0), new PointF(59, 0), new PointF(59, 39), new PointF(0, 39) };
        for (int i = 0; i < 4; i++)
        {
            var p = ImageAugmentation.Project(m, from[i]);
            Assert.InRange(p.X, corners[i].X - 1e-3, corners[i].X + 1e-3);
            Assert.InRange(p.Y, corners[i].Y - 1e-3, corners[i].Y + 1e-3);
        }
        // A dot at the upper left moves up (the left side is stretched), where the homography sends it.
        var expected = ImageAugmentation.Project(m, new PointF(12, 10));
        Assert.True(expected.Y < 10 - 2);
        using var image = TestFiles.Dot(w, h, 12, 10, 2);
        ImageAugmentation.Skew(image, corners);
        var (x, y) = TestFiles.Centroid(image);
        Assert.InRange(x, expected.X - 1.0, expected.X + 1.0);
        Assert.InRange(y, expected.Y - 1.0, expected.Y + 1.0);
    }
}
