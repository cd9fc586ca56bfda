using ProtoPNet.Data;
using ProtoPNet.Explanation;
using ProtoPNet.Model;
using ProtoPNet.Persistence;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ProtoPNet.Tests;

public class ExplanationTests
{
    private static readonly string[] Classes = ["a", "b", "c"];

    internal static ProtoPNetModel SmallModel(int seed, string name = "m", string[]? classes = null, int perClass = 2, int size = 28)
    {
        var model = ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = "smallcnn", ImageSize = size, PrototypeDepth = 16, AddOn = AddOnKind.Regular },
            classes ?? Classes, perClass, seed);
        model.Name = name;
        return model;
    }

    /// <summary>
    /// An untrained smallcnn maps every patch to nearly the same latent (its BatchNorm layers still have unit running
    /// variance, and each random conv shrinks the signal), which would make distances ties. Forward passes in train
    /// mode set the running statistics, and a steeper add-on output spreads the sigmoid, so latents differ by content.
    /// </summary>
    internal static void Calibrate(ProtoPNetModel model, Tensor images)
    {
        using var _ = torch.no_grad();
        model.Network.train();
        using var input = Normalize.Apply(images, model.Normalization);
        for (int i = 0; i < 40; i++) model.Network.forward(input).Dispose();
        model.Network.eval();
        foreach (var (name, p) in model.Network.AddOn.named_parameters())
            if (name.EndsWith("weight")) p.mul_(4);
    }

    private static TensorDataset RandomImages(int count, int seed, int size = 28)
    {
        torch.manual_seed(seed);
        return new TensorDataset("random", torch.rand(count, 3, size, size), Enumerable.Range(0, count).Select(i => i % 3).ToArray(), Classes);
    }

    private static List<ImageExplanation> ExplainAll(IClassifier classifier, ImageDataset data, ExplanationOptions options)
    {
        var explainer = new Explainer(classifier, options);
        return explainer.Explain(Enumerable.Range(0, data.Count).Select(i => ExplanationSource.FromDataset(data, i)).ToArray()).ToList();
    }

    [Fact]
    public void ContributionsOfAllPrototypesAddUpToTheLogit()
    {
        using var model = SmallModel(1);
        var data = RandomImages(5, 2);
        var results = ExplainAll(model, data, new ExplanationOptions { Top = 0 });
        using var logits = model.Logits(Normalize.Apply(torch.stack(Enumerable.Range(0, 5).Select(i => data.Load(i, 28).Pixels)), model.Normalization));
        for (int b = 0; b < 5; b++)
        {
            var rows = results[b].Rows;
            Assert.Equal(model.PrototypeCount, rows.Count);
            Assert.Equal(Enumerable.Range(1, rows.Count), rows.Select(r => r.Rank));
            double sum = rows.Sum(r => r.Contribution);
            double logit = rows[0].Logit;
            Assert.True(Math.Abs(sum - logit) <= 1e-4 * Math.Max(1, Math.Abs(logit)), $"sum {sum} vs logit {logit}");
            // The logit is the model's, and the predicted class is its arg max.
            int predicted = (int)logits[b].argmax().item<long>();
            Assert.Equal(Classes[predicted], rows[0].PredictedClass);
            Assert.Equal(logits[b, predicted].item<float>(), logit, 4);
            Assert.Equal(data.ClassNames[data.LabelOf(b)], rows[0].TrueClass);
            // Ranked by contribution, largest first.
            Assert.True(rows.Zip(rows.Skip(1)).All(p => p.First.Contribution >= p.Second.Contribution));
        }
    }

    [Fact]
    public void ChosenClassContributionsAddUpToItsLogit()
    {
        using var model = SmallModel(3);
        var data = RandomImages(3, 4);
        var results = ExplainAll(model, data, new ExplanationOptions { Top = 0, Class = "C" });
        foreach (var r in results)
        {
            Assert.All(r.Rows, row => Assert.Equal("c", row.ExplainedClass));
            double sum = r.Rows.Sum(x => x.Contribution);
            Assert.True(Math.Abs(sum - r.Rows[0].ExplainedLogit) <= 1e-4 * Math.Max(1, Math.Abs(sum)));
        }
        Assert.Throws<ProtoPNetException>(() => new Explainer(model, new ExplanationOptions { Class = "nope" }));
    }

    [Fact]
    public void TopLimitsRowsAndNearestRanksBySimilarity()
    {
        using var model = SmallModel(5);
        var data = RandomImages(2, 6);
        var top = ExplainAll(model, data, new ExplanationOptions { Top = 3 });
        Assert.All(top, r => Assert.Equal(3, r.Rows.Count));
        var nearest = ExplainAll(model, data, new ExplanationOptions { Top = 0, Nearest = true });
        Assert.All(nearest, r => Assert.True(r.Rows.Zip(r.Rows.Skip(1)).All(p => p.First.Similarity >= p.Second.Similarity)));
    }

    /// <summary>A dataset of one PNG file that crops it to a box before resizing, as CUB does.</summary>
    private sealed class CroppedFileDataset(string path, Rectangle crop) : ImageDataset
    {
        public override string Name => "cropped";
        public override IReadOnlyList<string> ClassNames => Classes;
        public override int Count => 1;
        public override int LabelOf(int index) => 0;
        public override string SourceOf(int index) => path;
        public override LoadedImage Load(int index, int size) => ImageDecoder.Load(path, size, crop);
    }

    [Theory]
    [InlineData(true, 7)]
    [InlineData(false, 7)]
    [InlineData(true, 8)]
    [InlineData(false, 8)]
    [InlineData(true, 9)]
    [InlineData(false, 9)]
    public void TopBoxFindsAPlantedBrightPatchThroughCropAndResize(bool crop, int seed)
    {
        // A dark 100×60 image with a bright 20×20 square at (60, 25): non-square, so the resize distorts, and the
        // crop (20, 10, 72, 48) shifts it; the box must still land on the square in the original's pixels.
        string path = Path.Combine(Path.GetTempPath(), $"planted-{Guid.NewGuid():N}.png");
        using (var image = new Image<Rgb24>(100, 60, new Rgb24(25, 25, 25)))
        {
            for (int y = 25; y < 45; y++) for (int x = 60; x < 80; x++) image[x, y] = new Rgb24(255, 255, 255);
            image.SaveAsPng(path);
        }
        try
        {
            ImageDataset data = crop ? new CroppedFileDataset(path, new Rectangle(20, 10, 72, 48)) : new CroppedFileDataset(path, new Rectangle(0, 0, 100, 60));
            using var model = SmallModel(seed);
            using var loaded = data.Load(0, 28);
            Calibrate(model, torch.cat([loaded.Pixels.unsqueeze(0), torch.rand(7, 3, 28, 28)]));
            // The latent cell whose receptive field is centred nearest the square's centre (70, 35) in input pixels.
            var g = loaded.Geometry;
            double cx = (70 - g.CropX) * 28.0 / g.CropWidth, cy = (35 - g.CropY) * 28.0 / g.CropHeight;
            int column = (int)Math.Round((cx - 1.5) / 4), row = (int)Math.Round((cy - 1.5) / 4);
            using (torch.no_grad())
            {
                model.Network.eval();
                using var input = Normalize.Apply(loaded.Pixels.unsqueeze(0), model.Normalization);
                using var z = model.Network.Latent(input);
                model.Network.Prototypes[0].copy_(z[0, TensorIndex.Colon, row, column].view(-1, 1, 1));
            }
            // The paper's box: its own locality is what this test checks; the receptive window is checked below.
            var result = new Explainer(model, new ExplanationOptions { Top = 1, BoxMethod = BoxMethod.Percentile }).Explain([ExplanationSource.FromDataset(data, 0)])[0];
            var top = Assert.Single(result.Rows);
            Assert.Equal("Percentile", top.BoxMethod);
            Assert.Equal(0, top.PrototypeIndex);
            Assert.True(top.Distance < 1e-3, $"distance {top.Distance}");
            Assert.Equal((row, column), (top.LatentRow, top.LatentColumn));
            var box = new PixelBox(top.BoxX, top.BoxY, top.BoxWidth, top.BoxHeight);
            Assert.True(box.Contains(70, 35), $"box {box} misses the square's centre");
            // The box is local: well inside the original, not the whole image.
            Assert.True(box.Width < 50 && box.Height < 40, $"box {box} is not local");
            if (crop) Assert.True(box.X >= 20 && box.Y >= 10, $"box {box} lies outside the crop");
            var window = new PixelBox(top.ReceptiveFieldX, top.ReceptiveFieldY, top.ReceptiveFieldWidth, top.ReceptiveFieldHeight);
            Assert.True(window.Contains(70, 35), $"receptive field {window} misses the square");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void NinetyFifthPercentileBoxMatchesNumpyDefinition()
    {
        // Values 0..99 in a 10×10 map at the input size: numpy.percentile(…, 95) = 94.05, so pixels 95..99 (row 9, columns 5..9) qualify.
        using var map = torch.arange(100, dtype: ScalarType.Float32).view(1, 10, 10);
        var boxes = ImageRegion.PercentileBoxes(map, 10, out _);
        Assert.Equal(new PixelBox(5, 9, 5, 1), boxes[0]);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public void PruningRemovesPrototypesWhoseNearestPatchesAreMostlyOfOtherClasses(int seed)
    {
        // Two looks: reddish and bluish uniform images with slightly different intensities. Class a has 4 red, 2 blue;
        // class b has 4 blue, 2 red. A prototype planted on a red latent has 6 nearest images = the 6 red ones.
        string[] classes = ["a", "b"];
        var images = torch.zeros(12, 3, 28, 28);
        var labels = new int[12];
        for (int i = 0; i < 12; i++)
        {
            bool red = i < 4 || (i >= 10);          // 0-3 red a, 4-5 blue a, 6-9 blue b, 10-11 red b
            labels[i] = i < 6 ? 0 : 1;
            float v = 0.7f + 0.003f * i;      // within a look, images differ far less than across looks
            images[i, red ? 0 : 2] = torch.full(28, 28, v);
        }
        var data = new TensorDataset("looks", images, labels, classes);
        using var model = SmallModel(seed, classes: classes, perClass: 2);    // prototypes 0,1 → a; 2,3 → b
        // Prototype 0 (a): red → 4 of 6 of class a, kept. 1 (a): blue → 2 of 6, pruned. 2 (b): red → 2, pruned. 3 (b): blue → 4, kept.
        int[] source = [0, 6, 1, 7];
        Calibrate(model, data.Images);
        using (torch.no_grad())
        {
            for (int j = 0; j < 4; j++)
            {
                using var loaded = data.Load(source[j], 28);
                using var input = Normalize.Apply(loaded.Pixels.unsqueeze(0), model.Normalization);
                using var z = model.Network.Latent(input);
                model.Network.Prototypes[j].copy_(z[0, TensorIndex.Colon, 3, 3].view(-1, 1, 1));
                model.SetProvenance(j, new PrototypeProvenance { SourceImage = $"p{j}", SourceIndex = source[j] });
            }
        }
        var decisions = PrototypePruning.Evaluate(model, data, 6, 3);
        Assert.Equal([4, 2, 2, 4], decisions.Select(d => d.NearestOfClass));
        Assert.Equal([false, true, true, false], decisions.Select(d => d.Prune));

        // Removing keeps the model consistent: the logits after pruning are the kept prototypes' share of the logits before.
        using var batch = Normalize.Apply(data.Images, model.Normalization);
        float[,] simBefore, weightBefore;
        using (torch.no_grad())
        {
            using var output = model.Network.forward(batch);
            using var s = model.Network.Similarities(output.MinDistances);
            simBefore = ToArray2(s);
            weightBefore = ToArray2(model.Network.LastLayer.weight!);
        }
        PrototypePruning.Remove(model, decisions.Where(d => d.Prune).Select(d => d.PrototypeIndex).ToArray(), 6, 3);
        Assert.Equal(2, model.PrototypeCount);
        Assert.Equal([0, 1], model.PrototypeClass);
        Assert.Equal(["p0", "p3"], model.Provenance.Select(p => p!.SourceImage));
        Assert.Equal(new long[] { 2, 16, 1, 1 }, model.Network.Prototypes.shape);
        Assert.Equal(new long[] { 2, 2 }, model.Network.LastLayer.weight!.shape);
        Assert.Equal(new long[] { 2, 2 }, model.Network.PrototypeClassIdentity.shape);
        using var after = model.Logits(batch);
        int[] kept = [0, 3];
        for (int n = 0; n < 12; n++)
            for (int c = 0; c < 2; c++)
            {
                double expected = kept.Sum(j => simBefore[n, j] * weightBefore[c, j]);
                Assert.Equal(expected, after[n, c].item<float>(), 3);
            }
        // And it still saves and loads.
        string file = Path.Combine(Path.GetTempPath(), $"pruned-{Guid.NewGuid():N}.ptpn");
        try
        {
            ModelFile.Save(model, file);
            using var loaded = ModelFile.Load(file);
            Assert.Equal(2, loaded.PrototypeCount);
        }
        finally { File.Delete(file); }
    }

    private static float[,] ToArray2(Tensor t)
    {
        var values = t.detach().cpu().data<float>().ToArray();
        int rows = (int)t.shape[0], cols = (int)t.shape[1];
        var result = new float[rows, cols];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) result[i, j] = values[i * cols + j];
        return result;
    }

    [Fact]
    public void EnsembleLogitsAreTheSumOfMembersAndItsContributionsAddUp()
    {
        using var m1 = SmallModel(21, "first");
        using var m2 = SmallModel(22, "second", perClass: 1);
        var ensemble = new ProtoPNetEnsemble([m1, m2]);
        var data = RandomImages(4, 23);
        using var input = Normalize.Apply(data.Images, m1.Normalization);
        using var sum = m1.Logits(input).add(m2.Logits(input));
        using var logits = ensemble.Logits(input);
        Assert.True(torch.allclose(sum, logits, rtol: 1e-5, atol: 1e-5));

        var results = ExplainAll(ensemble, data, new ExplanationOptions { Top = 0 });
        foreach (var r in results)
        {
            Assert.Equal(m1.PrototypeCount + m2.PrototypeCount, r.Rows.Count);
            Assert.Equal(["first", "second"], r.Rows.Select(x => x.Model).Distinct().Order());
            double total = r.Rows.Sum(x => x.Contribution);
            Assert.True(Math.Abs(total - r.Rows[0].Logit) <= 1e-4 * Math.Max(1, Math.Abs(total)));
        }

        // One file holds the ensemble; loading gives the same logits.
        string file = Path.Combine(Path.GetTempPath(), $"ensemble-{Guid.NewGuid():N}.ptpn");
        try
        {
            ModelFile.Save(ensemble, file);
            Assert.Equal(ModelFile.EnsembleFormatVersion, BitConverter.ToInt32(File.ReadAllBytes(file), 8));
            var loaded = Assert.IsType<ProtoPNetEnsemble>(ModelFile.LoadAny(file));
            Assert.Equal(["first", "second"], loaded.MemberNames);
            using var again = loaded.Logits(input);
            Assert.True(torch.allclose(logits, again, rtol: 1e-5, atol: 1e-5));
            var e = Assert.Throws<ProtoPNetException>(() => ModelFile.Load(file));
            Assert.Equal("ModelFileIsEnsemble", e.ErrorId);
            foreach (var m in loaded.Members) m.Dispose();
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void EnsembleRefusesMembersWithOtherClasses()
    {
        using var m1 = SmallModel(31);
        using var m2 = SmallModel(32, classes: ["a", "c", "b"]);
        var e = Assert.Throws<ProtoPNetException>(() => new ProtoPNetEnsemble([m1, m2]));
        Assert.Equal("EnsembleMismatch", e.ErrorId);
    }

    [Fact]
    public void NearestPatchesAreOnePerImageAndSorted()
    {
        using var model = SmallModel(41);
        var data = RandomImages(9, 42);
        var result = NearestPatches.Find(model, data, 4, [0, 5]);
        Assert.Equal(2, result.PerPrototype.Length);
        foreach (var list in result.PerPrototype)
        {
            Assert.Equal(4, list.Count);
            Assert.Equal(4, list.Select(p => p.ImageIndex).Distinct().Count());
            Assert.True(list.Zip(list.Skip(1)).All(p => p.First.Distance <= p.Second.Distance));
            Assert.All(list, p => Assert.True(p.BoxWidth > 0 && p.BoxHeight > 0));
        }
        // The nearest distance is the image's min distance from a forward pass.
        var first = result.PerPrototype[1][0];
        using var input = Normalize.Apply(data.Load(first.ImageIndex, 28).Pixels.unsqueeze(0), model.Normalization);
        using (torch.no_grad())
        {
            model.Network.eval();
            using var output = model.Network.forward(input);
            Assert.Equal(output.MinDistances[0, 5].item<float>(), first.Distance, 4);
        }
    }

    [Fact]
    public void ScoringSheetIsWrittenWithItsPictures()
    {
        using var model = SmallModel(51);
        var data = RandomImages(2, 52);
        string dir = Path.Combine(Path.GetTempPath(), $"sheets-{Guid.NewGuid():N}");
        try
        {
            // Prototypes pushed onto items of an in-memory dataset ("random#k"): their pictures come from the push dataset.
            for (int j = 0; j < model.PrototypeCount; j++)
                model.SetProvenance(j, new PrototypeProvenance { SourceImage = data.SourceOf(j % 2), SourceIndex = j % 2, BoxX = j, BoxY = 2, BoxWidth = 8, BoxHeight = 6 });
            var explainer = new Explainer(model, new ExplanationOptions { Top = 0, OutputDirectory = dir, SheetRows = 2, PushDataset = data });
            var results = explainer.Explain([ExplanationSource.FromDataset(data, 0), ExplanationSource.FromDataset(data, 1)]);
            explainer.Finish();
            foreach (var r in results)
            {
                Assert.True(File.Exists(r.ScoringSheet));
                string html = File.ReadAllText(r.ScoringSheet!);
                foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(html, "src=\"([^\"]+)\""))
                    Assert.True(File.Exists(Path.Combine(dir, Uri.UnescapeDataString(m.Groups[1].Value))), m.Groups[1].Value);
                Assert.Contains("Runner-up", html);
                // Two sections of SheetRows = 2 prototypes each, and a line for the other prototypes of each class.
                Assert.Equal(4, System.Text.RegularExpressions.Regex.Matches(html, "-heat.png").Count);
                Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(html, "the other 4 prototypes").Count);
                Assert.Equal(4, System.Text.RegularExpressions.Regex.Matches(html, "src=\"prototypes/m0-p\\d+-patch.png\"").Count);
                Assert.Equal(4, System.Text.RegularExpressions.Regex.Matches(html, "src=\"prototypes/m0-p\\d+-source.png\"").Count);
            }
            Assert.True(File.Exists(Path.Combine(dir, "index.html")));
        }
        finally { Directory.Delete(dir, true); }
    }
}

public class PrototypePictureSourceTests
{
    [Fact]
    public void PrototypePushedOntoASubsetIsFoundInTheWholeDataset()
    {
        using var model = ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = "smallcnn", ImageSize = 28 }, ["a", "b"], prototypesPerClass: 1, seed: 3);
        using var images = torch.rand(4, 3, 28, 28);
        var whole = new TensorDataset("whole", images, [0, 1, 0, 1], ["a", "b"]);
        var subset = new SubsetDataset(whole, [3, 2], "Train");
        // Push recorded index 0 of the subset, i.e. item 3 of the whole set; the explanation is given the whole set.
        model.SetProvenance(0, new PrototypeProvenance { SourceImage = subset.SourceOf(0), SourceIndex = 0, BoxX = 1, BoxY = 1, BoxWidth = 5, BoxHeight = 5 });
        Assert.Equal(whole.SourceOf(3), subset.SourceOf(0));
        string dir = Path.Combine(Path.GetTempPath(), $"pics-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(dir);
            var pictures = new PrototypePictures(dir, 28, whole, BoxMethod.Percentile);
            var (patch, source) = pictures.Get(model, 0, 0);
            Assert.NotNull(source);
            Assert.True(File.Exists(Path.Combine(dir, source!)));
            Assert.True(File.Exists(Path.Combine(dir, patch!)));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }
}

public class PercentileTests
{
    [Theory]
    [InlineData(95.0)]
    [InlineData(50.0)]
    [InlineData(0.0)]
    [InlineData(100.0)]
    public void PercentileMatchesSortedLinearInterpolation(double percentile)
    {
        var rng = new Random(5);
        foreach (int length in new[] { 1, 2, 7, 784, 1000 })
        {
            var values = Enumerable.Range(0, length).Select(_ => (float)Math.Round(rng.NextDouble() * 20) / 4).ToArray();   // with ties
            var sorted = values.Order().ToArray();
            double position = percentile / 100 * (length - 1);
            int lo = (int)Math.Floor(position), hi = (int)Math.Ceiling(position);
            double expected = sorted[lo] + (sorted[hi] - sorted[lo]) * (position - lo);
            Assert.Equal(expected, ImageRegion.PercentileInPlace(values, percentile), 5);
        }
    }
}
