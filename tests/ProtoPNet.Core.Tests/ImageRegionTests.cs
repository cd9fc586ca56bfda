using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Model.Backbones;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace ProtoPNet.Tests;

public class ImageRegionTests
{
    /// <summary>
    /// The receptive-field box of a latent cell is the set of input pixels that reach the cell, measured: with every
    /// convolution weight positive, biases 0 and BatchNorm at identity statistics, a zero image gives zero features and a
    /// single lit pixel lights exactly the cells that see it. For a corner cell (its window clipped by the image) and a
    /// middle cell of each backbone family: every pixel just inside an edge of the window lights the cell; every pixel
    /// just outside an unclipped edge does not.
    /// </summary>
    [Theory]
    [InlineData("smallcnn", 48)]
    [InlineData("vgg11", 96)]
    [InlineData("resnet18", 96)]
    [InlineData("densenet121", 96)]
    public void ReceptiveWindowOfACellIsWhereALitPixelReachesIt(string backbone, int size)
    {
        using var model = ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = backbone, ImageSize = size }, ["a", "b"], prototypesPerClass: 1);
        var features = model.Network.Backbone;
        features.to(float64).eval();
        using var _ = no_grad();
        foreach (var (_, module) in features.named_modules())
            if (module is MixedPrecisionConv2d conv) { conv.Weight.fill_(1.0 / conv.Weight.shape[1]); conv.Bias?.zero_(); }
        int grid = features.FeatureMapSize(size);
        foreach (var (row, column) in new[] { (0, 0), (grid / 2, grid / 2) })
        {
            var window = ImageRegion.ReceptiveWindow(model, row, column);
            var probes = new List<(int X, int Y, bool Inside)>();
            int cx = window.X + window.Width / 2, cy = window.Y + window.Height / 2;
            probes.Add((window.X, cy, true));
            probes.Add((window.X + window.Width - 1, cy, true));
            probes.Add((cx, window.Y, true));
            probes.Add((cx, window.Y + window.Height - 1, true));
            if (window.X > 0) probes.Add((window.X - 1, cy, false));
            if (window.X + window.Width < size) probes.Add((window.X + window.Width, cy, false));
            if (window.Y > 0) probes.Add((cx, window.Y - 1, false));
            if (window.Y + window.Height < size) probes.Add((cx, window.Y + window.Height, false));

            using var scope = NewDisposeScope();
            var input = zeros(new long[] { probes.Count, 3, size, size }, float64);
            for (int i = 0; i < probes.Count; i++) input[i, TensorIndex.Colon, probes[i].Y, probes[i].X] = tensor(1.0, float64);
            var lit = features.forward(input)[TensorIndex.Colon, TensorIndex.Colon, row, column].abs().sum(1).data<double>().Select(v => v > 0).ToArray();
            for (int i = 0; i < probes.Count; i++)
                Assert.True(lit[i] == probes[i].Inside,
                    $"{backbone} cell ({row}, {column}), window {window}: pixel ({probes[i].X}, {probes[i].Y}) {(probes[i].Inside ? "inside does not reach" : "outside reaches")} the cell");
        }
    }

    [Fact]
    public void ReceptiveWindowIsClippedToTheImageAndMapsThroughResizeAndCrop()
    {
        using var model = ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = "smallcnn", ImageSize = 32 }, ["a", "b"], prototypesPerClass: 1);
        // smallcnn: a 16-px field, stride 4, cell 0 centred at 1.5: cell (0, 0) sees [-6, 9] → clipped to [0, 9].
        Assert.Equal(new PixelBox(0, 0, 10, 10), ImageRegion.ReceptiveWindow(model, 0, 0));
        Assert.Equal(new PixelBox(6, 10, 16, 16), ImageRegion.ReceptiveWindow(model, 4, 3));
        Assert.Equal(new PixelBox(22, 22, 10, 10), ImageRegion.ReceptiveWindow(model, 7, 7));
        // A dataset crop (CUB's bounding box) of 64×128 at (100, 50) in a 400×300 image, resized to 32×32: x scales by 2, y by 4.
        var geometry = new ImageGeometry(400, 300, 100, 50, 64, 128, 32);
        Assert.Equal(new PixelBox(112, 90, 32, 64), ImageRegion.ReceptiveWindow(model, 4, 3).ToOriginal(geometry));
    }

    [Fact]
    public void PercentileBoxHoldsThePixelsAboveThe95thPercentile()
    {
        using var map = torch.zeros(20, 20);
        map[TensorIndex.Slice(3, 7), TensorIndex.Slice(10, 15)] = torch.tensor(5f);   // 20 of 400 pixels = the top 5 %
        Assert.Equal(new PixelBox(10, 3, 5, 4), ImageRegion.PercentileBox(map));
        // A single hot latent cell of a 4×4 map, upsampled to 16×16, gives a box around that cell's pixels.
        using var coarse = torch.zeros(4, 4);
        coarse[1, 2] = torch.tensor(1f);
        using var upsampled = ImageRegion.Upsample(coarse, 16);
        var box = ImageRegion.PercentileBox(upsampled);
        Assert.InRange(box.X, 6, 9);
        Assert.InRange(box.Y, 2, 5);
        Assert.True(box.X + box.Width <= 13 && box.Y + box.Height <= 9, box.ToString());
    }
}
