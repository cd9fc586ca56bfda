using System.Globalization;
using System.Text;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace ProtoPNet.Benchmarks;

/// <summary>Settings of a planted-part data set.</summary>
public sealed record PlantedPartOptions
{
    /// <summary>Side of the square images in pixels.</summary>
    public int ImageSize { get; init; } = 64;
    /// <summary>Number of classes, 2 to 8: the key glyphs are 4 shapes × 2 colours.</summary>
    public int ClassCount { get; init; } = 8;
    public int TrainPerClass { get; init; } = 200;
    public int TestPerClass { get; init; } = 50;
    /// <summary>Side of each glyph's box in pixels (14 at 64 px: a bit under a quarter of the image).</summary>
    public int GlyphSize { get; init; } = 14;
    /// <summary>Glyphs of shapes no class uses, placed beside the key; some are drawn in the key colours.</summary>
    public int Distractors { get; init; } = 2;
    public int Seed { get; init; } = 1;
}

/// <summary>What <see cref="PlantedPartSet.Write"/> wrote.</summary>
public sealed record PlantedPartSetInfo(string Root, string TrainPath, string TestPath, string PartsPath, string DistractorsPath,
    IReadOnlyList<string> ClassNames, int TrainCount, int TestCount, int ImageSize, int GlyphSize);

/// <summary>
/// A synthetic data set whose class is decided by one small part at a random place: each image holds one key glyph
/// (shape × colour = class) and distractor glyphs of shapes that no class uses (in key colours or others), on a
/// smooth, noisy background. Written as ImageFolder PNG class folders (<c>train/</c>, <c>test/</c>) with the ground
/// truth beside them: <c>parts.csv</c> holds the key glyph's box per image (columns Image, Part, X, Y, Width, Height;
/// Image relative to the root with '/' separators), <c>distractors.csv</c> the distractors' boxes. Deterministic for a
/// seed. It tests the promise of a prototype network: a model that classifies it must have found the key, and an
/// explanation that points must point there.
/// </summary>
public static class PlantedPartSet
{
    public const string PartsFileName = "parts.csv";
    public const string DistractorsFileName = "distractors.csv";

    private enum Shape { Square, Disc, Triangle, Cross, Bar, Slash, Dots, Corner }

    private static readonly Shape[] KeyShapes = [Shape.Square, Shape.Disc, Shape.Triangle, Shape.Cross];
    // Distractors are drawn in the key colours too, so colour alone does not decide; their shapes are unlike every key's
    // (thin strokes and dots against filled shapes), so that the key, not a near-miss shape, is what a model must find.
    private static readonly Shape[] DistractorShapes = [Shape.Bar, Shape.Slash, Shape.Dots, Shape.Corner];
    private static readonly (string Name, Rgb24 Colour)[] KeyColours = [("red", new Rgb24(215, 40, 40)), ("blue", new Rgb24(40, 70, 215))];
    private static readonly Rgb24[] DistractorColours = [new(215, 40, 40), new(40, 70, 215), new(40, 165, 60), new(220, 195, 40)];

    /// <summary>The class names, in class-index order: colour major, then shape ("red-square", "red-disc", …).</summary>
    public static string[] ClassNames(int classCount)
    {
        if (classCount is < 2 or > 8) throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "2 to 8 classes.");
        return Enumerable.Range(0, classCount)
            .Select(k => $"{KeyColours[k / KeyShapes.Length].Name}-{KeyShapes[k % KeyShapes.Length].ToString().ToLowerInvariant()}")
            .ToArray();
    }

    public static PlantedPartSetInfo Write(string root, PlantedPartOptions? options = null)
    {
        options ??= new PlantedPartOptions();
        int size = options.ImageSize, glyph = options.GlyphSize;
        if (glyph < 5 || (options.Distractors + 1) * (glyph + 2) * (glyph + 2) * 3 > size * size)
            throw new ArgumentException($"Glyphs of {glyph} px and {options.Distractors} distractors do not fit a {size}-px image.", nameof(options));
        var names = ClassNames(options.ClassCount);
        var parts = new StringBuilder("Image,Part,X,Y,Width,Height\n");
        var distractors = new StringBuilder("Image,Part,X,Y,Width,Height\n");
        Directory.CreateDirectory(root);
        int train = WriteSplit(root, "train", options.TrainPerClass, options, names, parts, distractors, seedOffset: 0);
        int test = WriteSplit(root, "test", options.TestPerClass, options, names, parts, distractors, seedOffset: 1_000_003);
        string partsPath = Path.Combine(root, PartsFileName), distractorsPath = Path.Combine(root, DistractorsFileName);
        File.WriteAllText(partsPath, parts.ToString());
        File.WriteAllText(distractorsPath, distractors.ToString());
        return new PlantedPartSetInfo(Path.GetFullPath(root), Path.Combine(root, "train"), Path.Combine(root, "test"), partsPath, distractorsPath,
            names, train, test, size, glyph);
    }

    private static int WriteSplit(string root, string split, int perClass, PlantedPartOptions options, string[] names,
        StringBuilder parts, StringBuilder distractors, int seedOffset)
    {
        int count = 0;
        for (int k = 0; k < names.Length; k++)
        {
            string folder = Path.Combine(root, split, names[k]);
            Directory.CreateDirectory(folder);
            for (int i = 0; i < perClass; i++)
            {
                // One generator per image: any image can be regenerated alone, and the order of writing does not matter.
                var random = new Random(SeedMix.Combine(options.Seed, seedOffset, k, i));
                string relative = $"{split}/{names[k]}/{i:D5}.png";
                using var image = Draw(random, k, options, out var keyBox, out var distractorBoxes);
                image.SaveAsPng(Path.Combine(folder, $"{i:D5}.png"));
                parts.Append(Row(relative, "key", keyBox));
                foreach (var box in distractorBoxes) distractors.Append(Row(relative, "distractor", box));
                count++;
            }
        }
        return count;
    }

    private static string Row(string image, string part, (int X, int Y, int W, int H) b) =>
        string.Create(CultureInfo.InvariantCulture, $"{image},{part},{b.X},{b.Y},{b.W},{b.H}\n");

    private static Image<Rgb24> Draw(Random random, int classIndex, PlantedPartOptions options,
        out (int X, int Y, int W, int H) keyBox, out List<(int X, int Y, int W, int H)> distractorBoxes)
    {
        int size = options.ImageSize, g = options.GlyphSize;
        var image = new Image<Rgb24>(size, size);
        // Background: a random base colour with a low-frequency wave and per-pixel noise, so that no pixel value alone marks a glyph.
        double baseR = 90 + random.Next(80), baseG = 90 + random.Next(80), baseB = 90 + random.Next(80);
        double fx = (0.5 + random.NextDouble()) * 2 * Math.PI / size, fy = (0.5 + random.NextDouble()) * 2 * Math.PI / size;
        double phase = random.NextDouble() * 2 * Math.PI, amplitude = 15 + random.Next(20);
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                double wave = amplitude * Math.Sin(fx * x + fy * y + phase);
                image[x, y] = new Rgb24(Clamp(baseR + wave + Noise(random, 10)), Clamp(baseG - wave + Noise(random, 10)), Clamp(baseB + Noise(random, 10)));
            }

        // All glyphs are placed before any is drawn; a layout that leaves no room for the next glyph starts over.
        List<(int X, int Y, int W, int H)> placed;
        for (int layout = 0; ; layout++)
        {
            placed = new List<(int X, int Y, int W, int H)>();
            for (int glyph = 0; glyph <= options.Distractors && Place(random, size, g, placed); glyph++) { }
            if (placed.Count == options.Distractors + 1) break;
            if (layout == 1000) throw new InvalidOperationException($"Could not place {options.Distractors + 1} glyphs of {g} px in a {size}-px image.");
        }
        keyBox = placed[0];
        var keyShape = KeyShapes[classIndex % KeyShapes.Length];
        var keyColour = KeyColours[classIndex / KeyShapes.Length].Colour;
        Stamp(image, random, keyBox, keyShape, keyColour);
        distractorBoxes = new List<(int, int, int, int)>();
        for (int d = 0; d < options.Distractors; d++)
        {
            var box = placed[d + 1];
            Stamp(image, random, box, DistractorShapes[random.Next(DistractorShapes.Length)], DistractorColours[random.Next(DistractorColours.Length)]);
            distractorBoxes.Add(box);
        }
        return image;
    }

    /// <summary>Adds a free g×g box at a uniformly random place, at least 2 px from every glyph placed before; false when none was found.</summary>
    private static bool Place(Random random, int size, int g, List<(int X, int Y, int W, int H)> placed)
    {
        for (int attempt = 0; attempt < 200; attempt++)
        {
            int x = random.Next(size - g + 1), y = random.Next(size - g + 1);
            if (placed.All(p => x + g + 2 <= p.X || p.X + p.W + 2 <= x || y + g + 2 <= p.Y || p.Y + p.H + 2 <= y))
            {
                placed.Add((x, y, g, g));
                return true;
            }
        }
        return false;
    }

    private static void Stamp(Image<Rgb24> image, Random random, (int X, int Y, int W, int H) box, Shape shape, Rgb24 colour)
    {
        // Each glyph's colour varies a little, so that the model learns a colour range, not one value.
        int jr = random.Next(-20, 21), jg = random.Next(-20, 21), jb = random.Next(-20, 21);
        for (int dy = 0; dy < box.H; dy++)
            for (int dx = 0; dx < box.W; dx++)
                if (Covers(shape, dx, dy, box.W))
                    image[box.X + dx, box.Y + dy] = new Rgb24(Clamp(colour.R + jr + Noise(random, 6)), Clamp(colour.G + jg + Noise(random, 6)), Clamp(colour.B + jb + Noise(random, 6)));
    }

    /// <summary>Whether pixel (dx, dy) of a g×g glyph box belongs to the shape.</summary>
    private static bool Covers(Shape shape, int dx, int dy, int g)
    {
        double c = (g - 1) / 2.0, x = dx - c, y = dy - c, r = g / 2.0;
        int thick = Math.Max(2, g / 7), arm = Math.Max(2, g / 3);
        return shape switch
        {
            Shape.Square => dx >= 1 && dy >= 1 && dx < g - 1 && dy < g - 1,
            Shape.Disc => x * x + y * y <= r * r,
            // Apex at the top centre, base along the bottom row.
            Shape.Triangle => Math.Abs(x) <= (dy + 0.5) / 2.0,
            Shape.Cross => Math.Abs(x) < arm / 2.0 + 0.01 || Math.Abs(y) < arm / 2.0 + 0.01,
            Shape.Bar => Math.Abs(y) < thick,
            Shape.Slash => Math.Abs(dx + dy - (g - 1)) < thick,
            Shape.Dots => (dx % (g / 2) is var mx && mx >= g / 8 && mx < g / 8 + thick) && (dy % (g / 2) is var my && my >= g / 8 && my < g / 8 + thick),
            Shape.Corner => (dx < thick && dy < g - 1) || (dy >= g - 1 - thick && dy < g - 1),
            _ => false,
        };
    }

    private static double Noise(Random random, double sigma)
    {
        // Box–Muller: one normal draw.
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return sigma * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    private static byte Clamp(double v) => (byte)Math.Clamp((int)Math.Round(v), 0, 255);
}
