using ProtoPNet.Data;
using ProtoPNet.Explanation;
using ProtoPNet.Model;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;

namespace ProtoPNet.Tests;

/// <summary>
/// Every picture draws the box its rows give: the box is read back out of the written PNGs (the only pure yellow in
/// pictures of grey images) and compared with the row's numbers and the prototype's recorded box of the same method.
/// </summary>
public class DrawnBoxTests
{
    private static readonly Rgb24 Yellow = new(255, 255, 0);

    [Theory]
    [InlineData(BoxMethod.ReceptiveField)]
    [InlineData(BoxMethod.Percentile)]
    public void ScoringSheetAndGalleryDrawTheRowsBoxes(BoxMethod method)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"drawn-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            using var model = ExplanationTests.SmallModel(61);
            string input = GreyPng(Path.Combine(dir, "input.png"), 28, 28, 1);
            string source = GreyPng(Path.Combine(dir, "source.png"), 40, 30, 2);
            // The two methods' boxes differ, so a picture that draws the other one fails.
            for (int j = 0; j < model.PrototypeCount; j++)
                model.SetProvenance(j, new PrototypeProvenance
                {
                    SourceImage = source, BoxX = 2 + j, BoxY = 3, BoxWidth = 9, BoxHeight = 7,
                    WindowX = 14, WindowY = 6 + j, WindowWidth = 16, WindowHeight = 14,
                });
            var explainer = new Explainer(model, new ExplanationOptions { Top = 3, OutputDirectory = Path.Combine(dir, "sheets"), BoxMethod = method });
            var result = explainer.Explain([new ExplanationSource(input)])[0];
            Assert.Null(result.Error);
            string html = File.ReadAllText(result.ScoringSheet!);
            Assert.Contains(ImageRegion.Describe(method), System.Net.WebUtility.HtmlDecode(html));
            string files = Path.Combine(Path.GetDirectoryName(result.ScoringSheet)!, Path.GetFileNameWithoutExtension(result.ScoringSheet) + "_files");
            int inputScale = Rendering.Pictures.DisplayScale(28);
            foreach (var row in result.Rows)
            {
                // Image side: the 28-px input is its own original, so the row's box is the drawn box over the display scale.
                var drawn = YellowBounds(Path.Combine(files, $"m0-p{row.PrototypeIndex}-box.png"));
                Assert.Equal(new PixelBox(row.BoxX, row.BoxY, row.BoxWidth, row.BoxHeight),
                    new PixelBox(drawn.X / inputScale, drawn.Y / inputScale, drawn.Width / inputScale, drawn.Height / inputScale));
                // Prototype side: the source picture draws the row's PrototypeBox (the recorded box of the same method).
                int sourceScale = Rendering.Pictures.DisplayScale(40);
                var side = YellowBounds(Path.Combine(dir, "sheets", "prototypes", $"m0-p{row.PrototypeIndex}-source.png"));
                Assert.Equal(new PixelBox(row.PrototypeBoxX!.Value, row.PrototypeBoxY!.Value, row.PrototypeBoxWidth!.Value, row.PrototypeBoxHeight!.Value),
                    new PixelBox(side.X / sourceScale, side.Y / sourceScale, side.Width / sourceScale, side.Height / sourceScale));
                Assert.Equal(model.Provenance[row.PrototypeIndex]!.Box(method), new PixelBox(side.X / sourceScale, side.Y / sourceScale, side.Width / sourceScale, side.Height / sourceScale));
            }

            // The gallery draws the same box on the same source.
            string gallery = PrototypeGallery.Write(model, Path.Combine(dir, "gallery"), boxMethod: method);
            Assert.Contains(ImageRegion.Describe(method), System.Net.WebUtility.HtmlDecode(File.ReadAllText(gallery)));
            for (int j = 0; j < model.PrototypeCount; j++)
            {
                var g = YellowBounds(Path.Combine(dir, "gallery", "prototypes", $"m0-p{j}-source.png"));
                int s = Rendering.Pictures.DisplayScale(40);
                Assert.Equal(model.Provenance[j]!.Box(method), new PixelBox(g.X / s, g.Y / s, g.Width / s, g.Height / s));
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void AFileWithoutWindowsFallsBackToThePercentileBoxAndSaysSo()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"drawn-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            using var model = ExplanationTests.SmallModel(62);
            string source = GreyPng(Path.Combine(dir, "source.png"), 40, 30, 3);
            for (int j = 0; j < model.PrototypeCount; j++)
                model.SetProvenance(j, new PrototypeProvenance { SourceImage = source, BoxX = 5, BoxY = 4, BoxWidth = 10, BoxHeight = 8 });
            string gallery = PrototypeGallery.Write(model, Path.Combine(dir, "gallery"), boxMethod: BoxMethod.ReceptiveField);
            Assert.Contains("this model file has no receptive window", File.ReadAllText(gallery));
            var g = YellowBounds(Path.Combine(dir, "gallery", "prototypes", "m0-p0-source.png"));
            int s = Rendering.Pictures.DisplayScale(40);
            Assert.Equal(new PixelBox(5, 4, 10, 8), new PixelBox(g.X / s, g.Y / s, g.Width / s, g.Height / s));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void NearestPatchBoxesFollowTheBoxMethod()
    {
        using var model = ExplanationTests.SmallModel(63);
        TorchSharp.torch.manual_seed(64);
        var data = new TensorDataset("random", TorchSharp.torch.rand(6, 3, 28, 28), [0, 1, 2, 0, 1, 2], ["a", "b", "c"]);
        var windows = NearestPatches.Find(model, data, 3, [0, 3], boxMethod: BoxMethod.ReceptiveField).PerPrototype;
        var percentile = NearestPatches.Find(model, data, 3, [0, 3], boxMethod: BoxMethod.Percentile).PerPrototype;
        foreach (var patch in windows.SelectMany(l => l))
        {
            Assert.Equal("ReceptiveField", patch.BoxMethod);
            Assert.Equal(ImageRegion.ReceptiveWindow(model, patch.LatentRow, patch.LatentColumn),
                new PixelBox(patch.BoxX!.Value, patch.BoxY!.Value, patch.BoxWidth!.Value, patch.BoxHeight!.Value));
        }
        Assert.All(percentile.SelectMany(l => l), p => Assert.Equal("Percentile", p.BoxMethod));
        Assert.Equal(windows.SelectMany(l => l).Select(p => p.ImageIndex), percentile.SelectMany(l => l).Select(p => p.ImageIndex));
    }

    /// <summary>A grey PNG (r = g = b, never pure yellow) of random 2×2 blocks.</summary>
    private static string GreyPng(string path, int width, int height, int seed)
    {
        using var image = new Image<Rgb24>(width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                byte v = (byte)new Random(seed * 7919 + (y / 2) * 1000 + x / 2).Next(20, 230);
                image[x, y] = new Rgb24(v, v, v);
            }
        image.SaveAsPng(path);
        return path;
    }

    /// <summary>The bounding rectangle of the pure-yellow pixels of a PNG.</summary>
    private static PixelBox YellowBounds(string path)
    {
        using var image = Image.Load<Rgb24>(path);
        int x0 = int.MaxValue, y0 = int.MaxValue, x1 = -1, y1 = -1;
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
                if (image[x, y].Equals(Yellow)) { x0 = Math.Min(x0, x); y0 = Math.Min(y0, y); x1 = Math.Max(x1, x); y1 = Math.Max(y1, y); }
        Assert.True(x1 >= 0, $"no box drawn in {path}");
        return new PixelBox(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
    }
}
