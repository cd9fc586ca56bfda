using System.Numerics;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace ProtoPNet.Data;

/// <summary>The three transforms of the authors' augmentation (their img_aug.py, with the Augmentor library).</summary>
public enum AugmentationKind
{
    Rotate,
    Skew,
    Shear,
}

/// <summary>
/// The authors' augmentation: rotate up to ±15°, perspective skew of magnitude 0.2, shear up to ±10°, each followed by a
/// left-right flip with probability 0.5. Offline, the authors made 10 copies per transform (30 per image); online,
/// <see cref="Apply(Image{Rgb24}, Random)"/> picks one transform at random. Every transform keeps the image's size.
/// </summary>
/// <remarks>
/// Like Augmentor, rotation and shear zoom in just enough that no empty corner shows (Augmentor crops the largest clean
/// rectangle and resizes it back: the same picture up to aspect); skew moves one side's corners (a tilt) or one corner
/// outward by 1…⌈0.2·max(w, h)⌉ pixels and leaves the uncovered area black, as Augmentor does. Angles are in degrees,
/// positive = clockwise on screen (y points down). Coordinates are pixel centres.
/// </remarks>
public sealed class ImageAugmentation
{
    public double MaxRotationDegrees { get; init; } = 15;
    public double SkewMagnitude { get; init; } = 0.2;
    public double MaxShearDegrees { get; init; } = 10;
    public double FlipProbability { get; init; } = 0.5;
    /// <summary>Which transforms <see cref="Apply(Image{Rgb24}, Random)"/> chooses from.</summary>
    public IReadOnlyList<AugmentationKind> Kinds { get; init; } = [AugmentationKind.Rotate, AugmentationKind.Skew, AugmentationKind.Shear];

    /// <summary>The authors' settings.</summary>
    public static ImageAugmentation Authors { get; } = new();

    /// <summary>One random transform of <see cref="Kinds"/>, then the random flip; in place. Deterministic for a given Random state.</summary>
    public void Apply(Image<Rgb24> image, Random random) => Apply(image, Kinds[random.Next(Kinds.Count)], random);

    /// <summary>The given transform with random parameters, then the random flip; in place.</summary>
    public void Apply(Image<Rgb24> image, AugmentationKind kind, Random random)
    {
        switch (kind)
        {
            case AugmentationKind.Rotate:
                Rotate(image, Uniform(random, -MaxRotationDegrees, MaxRotationDegrees));
                break;
            case AugmentationKind.Shear:
                Shear(image, Uniform(random, -MaxShearDegrees, MaxShearDegrees), horizontal: random.Next(2) == 0);
                break;
            case AugmentationKind.Skew:
                Skew(image, RandomSkewCorners(image.Width, image.Height, SkewMagnitude, random));
                break;
        }
        if (random.NextDouble() < FlipProbability) FlipHorizontal(image);
    }

    private static double Uniform(Random random, double low, double high) => low + (high - low) * random.NextDouble();

    public static void FlipHorizontal(Image<Rgb24> image) => image.Mutate(x => x.Flip(FlipMode.Horizontal));

    /// <summary>Rotation about the centre, zoomed by the smallest factor that leaves no empty corner.</summary>
    public static void Rotate(Image<Rgb24> image, double degrees) => Affine(image, RotationMatrix(image.Width, image.Height, degrees));

    /// <summary>Shear about the centre (horizontal: x moves by tan(angle)·(y − cy)), zoomed so no empty corner shows.</summary>
    public static void Shear(Image<Rgb24> image, double degrees, bool horizontal) => Affine(image, ShearMatrix(image.Width, image.Height, degrees, horizontal));

    /// <summary>Perspective transform taking the image's corners (TL, TR, BR, BL) to <paramref name="corners"/>.</summary>
    public static void Skew(Image<Rgb24> image, PointF[] corners)
    {
        var matrix = SkewMatrix(image.Width, image.Height, corners);
        var size = image.Size();
        image.Mutate(x => x.Transform(new Rectangle(0, 0, size.Width, size.Height), matrix, size, KnownResamplers.Bicubic));
    }

    private static void Affine(Image<Rgb24> image, Matrix3x2 matrix)
    {
        var size = image.Size();
        image.Mutate(x => x.Transform(new Rectangle(0, 0, size.Width, size.Height), matrix, size, KnownResamplers.Bicubic));
    }

    /// <summary>Where a source pixel goes: dest = c + s·R(θ)(p − c), s = max(cos + (h/w)·sin, (w/h)·sin + cos) on |θ|.</summary>
    public static Matrix3x2 RotationMatrix(int width, int height, double degrees)
    {
        double t = degrees * Math.PI / 180, c = Math.Abs(Math.Cos(t)), s = Math.Abs(Math.Sin(t));
        double w = width, h = height;
        double zoom = Math.Max(c + h / w * s, w / h * s + c);
        var center = Center(width, height);
        // System.Numerics uses row vectors: v' = v·M. CreateRotation(+θ) turns +x towards +y, i.e. clockwise with y down.
        return Matrix3x2.CreateTranslation(-center) * Matrix3x2.CreateRotation((float)t) * Matrix3x2.CreateScale((float)zoom)
               * Matrix3x2.CreateTranslation(center);
    }

    public static Matrix3x2 ShearMatrix(int width, int height, double degrees, bool horizontal)
    {
        double k = Math.Tan(degrees * Math.PI / 180);
        double zoom = horizontal ? 1 + Math.Abs(k) * height / width : 1 + Math.Abs(k) * width / height;
        var shear = horizontal ? new Matrix3x2(1, 0, (float)k, 1, 0, 0) : new Matrix3x2(1, (float)k, 0, 1, 0, 0);
        var center = Center(width, height);
        return Matrix3x2.CreateTranslation(-center) * shear * Matrix3x2.CreateScale((float)zoom) * Matrix3x2.CreateTranslation(center);
    }

    private static Vector2 Center(int width, int height) => new((width - 1) / 2f, (height - 1) / 2f);

    /// <summary>Augmentor's random skew: a tilt of one side (both its corners spread outward) or one corner moved outward.</summary>
    public static PointF[] RandomSkewCorners(int width, int height, double magnitude, Random random)
    {
        float x0 = 0, y0 = 0, x1 = width - 1, y1 = height - 1;
        int max = Math.Max(1, (int)Math.Ceiling(Math.Max(width, height) * magnitude));
        float a = random.Next(1, max + 1);
        var c = new[] { new PointF(x0, y0), new PointF(x1, y0), new PointF(x1, y1), new PointF(x0, y1) }; // TL TR BR BL
        int choice = random.Next(12);
        switch (choice)
        {
            case 0: c[0].Y -= a; c[3].Y += a; break; // left side taller
            case 1: c[1].Y -= a; c[2].Y += a; break; // right side taller
            case 2: c[0].X -= a; c[1].X += a; break; // top side wider
            case 3: c[3].X -= a; c[2].X += a; break; // bottom side wider
            default:
            {
                int corner = (choice - 4) / 2;
                bool alongX = (choice - 4) % 2 == 0;
                float dx = corner is 0 or 3 ? -a : a, dy = corner is 0 or 1 ? -a : a;
                if (alongX) c[corner].X += dx; else c[corner].Y += dy;
                break;
            }
        }
        return c;
    }

    /// <summary>The projective matrix (ImageSharp's row-vector Matrix4x4) taking corners TL, TR, BR, BL of the image to <paramref name="corners"/>.</summary>
    public static Matrix4x4 SkewMatrix(int width, int height, PointF[] corners)
    {
        if (corners.Length != 4) throw new ArgumentException("four corners: top-left, top-right, bottom-right, bottom-left", nameof(corners));
        var from = new[] { new PointF(0, 0), new PointF(width - 1, 0), new PointF(width - 1, height - 1), new PointF(0, height - 1) };
        var h = Homography(from, corners);
        // Column-vector H = [a b c; d e f; g k 1] → row-vector matrix: x' = (a x + b y + c) / (g x + k y + 1).
        return new Matrix4x4(
            (float)h[0], (float)h[3], 0, (float)h[6],
            (float)h[1], (float)h[4], 0, (float)h[7],
            0, 0, 1, 0,
            (float)h[2], (float)h[5], 0, 1);
    }

    /// <summary>Maps a point through a projective matrix built by <see cref="SkewMatrix"/>.</summary>
    public static PointF Project(Matrix4x4 m, PointF p)
    {
        float w = p.X * m.M14 + p.Y * m.M24 + m.M44;
        return new PointF((p.X * m.M11 + p.Y * m.M21 + m.M41) / w, (p.X * m.M12 + p.Y * m.M22 + m.M42) / w);
    }

    /// <summary>The 8 parameters a…k of the homography taking from[i] to to[i] (Gaussian elimination with pivoting).</summary>
    private static double[] Homography(PointF[] from, PointF[] to)
    {
        var A = new double[8, 9];
        for (int i = 0; i < 4; i++)
        {
            double x = from[i].X, y = from[i].Y, u = to[i].X, v = to[i].Y;
            double[] r1 = [x, y, 1, 0, 0, 0, -u * x, -u * y, u];
            double[] r2 = [0, 0, 0, x, y, 1, -v * x, -v * y, v];
            for (int j = 0; j < 9; j++) { A[2 * i, j] = r1[j]; A[2 * i + 1, j] = r2[j]; }
        }
        for (int col = 0; col < 8; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < 8; r++) if (Math.Abs(A[r, col]) > Math.Abs(A[pivot, col])) pivot = r;
            if (Math.Abs(A[pivot, col]) < 1e-12) throw new ArgumentException("The corners are degenerate (three in a line).");
            for (int j = 0; j < 9; j++) (A[col, j], A[pivot, j]) = (A[pivot, j], A[col, j]);
            for (int r = 0; r < 8; r++)
            {
                if (r == col) continue;
                double f = A[r, col] / A[col, col];
                for (int j = col; j < 9; j++) A[r, j] -= f * A[col, j];
            }
        }
        var result = new double[8];
        for (int i = 0; i < 8; i++) result[i] = A[i, 8] / A[i, i];
        return result;
    }
}
