using System.IO.Compression;
using ProtoPNet.Data;
using Xunit;
using static TorchSharp.torch;

namespace ProtoPNet.Tests.Data;

public class IdxDatasetTests
{
    private static string Sample => Path.Combine(TestFiles.RepositoryRoot(), "data", "fashion-mnist-sample");

    /// <summary>An independent hand parse: skip the 8-byte idx1 header, read the label bytes.</summary>
    private static byte[] HandLabels(string file)
    {
        using var gz = new GZipStream(File.OpenRead(file), CompressionMode.Decompress);
        using var memory = new MemoryStream();
        gz.CopyTo(memory);
        return memory.ToArray()[8..];
    }

    [Fact]
    public void BundledSampleHasTheKnownLabelsCountsAndNames()
    {
        var train = IdxDataset.Open(Sample, new DatasetImportOptions { Split = "Train" });
        var hand = HandLabels(Path.Combine(Sample, "train-labels-idx1-ubyte.gz"));
        Assert.Equal(6000, train.Count);
        Assert.Equal(hand.Length, train.Count);
        // The first ten labels of Fashion-MNIST's training file, which the sample keeps in order.
        Assert.Equal(new[] { 9, 0, 0, 3, 0, 2, 7, 2, 5, 5 }, Enumerable.Range(0, 10).Select(train.LabelOf));
        Assert.Equal(hand.Select(b => (int)b), Enumerable.Range(0, train.Count).Select(train.LabelOf));
        Assert.All(train.CountPerClass(), c => Assert.Equal(600, c));
        Assert.Equal(IdxDataset.FashionMnistClassNames, train.ClassNames);
        Assert.Equal("Idx", train.Format);

        var test = IdxDataset.Open(Sample, new DatasetImportOptions { Split = "Test" });
        Assert.Equal(1000, test.Count);
        Assert.Equal(new[] { 9, 2, 1, 1, 6, 1, 4, 6, 5, 7 }, Enumerable.Range(0, 10).Select(test.LabelOf));
        Assert.EndsWith("t10k-images-idx3-ubyte.gz#3", test.SourceOf(3));
    }

    [Fact]
    public void PixelsAreTheFileBytesOverTwoHundredFiftyFiveInThreeChannels()
    {
        var file = Path.Combine(Sample, "train-images-idx3-ubyte.gz");
        var ds = IdxDataset.Open(file);
        using var gz = new GZipStream(File.OpenRead(file), CompressionMode.Decompress);
        using var memory = new MemoryStream();
        gz.CopyTo(memory);
        var raw = memory.ToArray();
        int item = 17;
        using var loaded = ds.Load(item, 28);
        Assert.Equal(new long[] { 3, 28, 28 }, loaded.Pixels.shape);
        var pixels = loaded.Pixels.data<float>().ToArray();
        for (int i = 0; i < 784; i++)
        {
            float expected = raw[16 + item * 784 + i] / 255f;
            Assert.Equal(expected, pixels[i], 6);
            Assert.Equal(expected, pixels[784 + i], 6);
            Assert.Equal(expected, pixels[2 * 784 + i], 6);
        }
        using var batch = ds.LoadBatch([0, 5, 9], 32);
        Assert.Equal(new long[] { 3, 3, 32, 32 }, batch.shape);
    }

    [Fact]
    public void MnistLikeDataGetDigitNamesAndExplicitNamesWin()
    {
        var dir = TestFiles.TempFolder();
        try
        {
            // Two dark 28×28 images (mean far below Fashion-MNIST's), labels 0 and 3, uncompressed.
            var images = new byte[16 + 2 * 784];
            images[2] = 8; images[3] = 3; images[7] = 2; images[11] = 28; images[15] = 28;
            images[16 + 400] = 255;
            File.WriteAllBytes(Path.Combine(dir, "digits-images-idx3-ubyte"), images);
            File.WriteAllBytes(Path.Combine(dir, "digits-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 2, 0, 3]);
            var ds = IdxDataset.Open(Path.Combine(dir, "digits-images-idx3-ubyte"));
            Assert.Equal(new[] { "0", "1", "2", "3" }, ds.ClassNames);
            var named = IdxDataset.Open(Path.Combine(dir, "digits-images-idx3-ubyte"), new DatasetImportOptions { ClassNames = ["a", "b", "c", "d"] });
            Assert.Equal("d", named.ClassNames[named.LabelOf(1)]);
            var ex = Assert.Throws<ProtoPNetException>(() => IdxDataset.Open(Path.Combine(dir, "digits-images-idx3-ubyte"), new DatasetImportOptions { ClassNames = ["a"] }));
            Assert.Equal("ClassNameCountMismatch", ex.ErrorId);
            File.WriteAllBytes(Path.Combine(dir, "digits-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 3, 0, 3, 1]);
            Assert.Equal("IdxCountMismatch", Assert.Throws<ProtoPNetException>(() => IdxDataset.Open(Path.Combine(dir, "digits-images-idx3-ubyte"))).ErrorId);
            File.WriteAllBytes(Path.Combine(dir, "digits-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0]);
            Assert.Equal("IdxFileInvalid", Assert.Throws<ProtoPNetException>(() => IdxDataset.Open(Path.Combine(dir, "digits-images-idx3-ubyte"))).ErrorId);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
