using ProtoPNet.Data;
using ProtoPNet.Model;
using SixLabors.ImageSharp;
using Xunit;
using static TorchSharp.torch;

namespace ProtoPNet.Tests.Data;

public class BatchReaderAndSplitTests
{
    private static readonly ImageNormalization Identity = new([0f, 0f, 0f], [1f, 1f, 1f]);

    /// <summary>An image folder: 2 classes × 5 pattern images, plus one unreadable file that passes no header check.</summary>
    private static string MakeFolder(bool withBadFile)
    {
        var root = TestFiles.TempFolder();
        for (int k = 0; k < 2; k++)
        {
            var dir = Directory.CreateDirectory(Path.Combine(root, k == 0 ? "b-class" : "a-class")).FullName;
            for (int i = 0; i < 5; i++)
            {
                using var image = TestFiles.Pattern(20 + i, 16 + k);
                image.SaveAsPng(Path.Combine(dir, $"img{i}.dat")); // extension says nothing: content decides
            }
        }
        if (withBadFile) File.WriteAllText(Path.Combine(root, "a-class", "notes.jpg"), "not an image");
        return root;
    }

    [Fact]
    public void ImageFolderSortsClassesFindsImagesByContentAndReportsBadFiles()
    {
        var root = MakeFolder(withBadFile: true);
        try
        {
            var ds = ImageFolderDataset.Open(root);
            Assert.Equal(new[] { "a-class", "b-class" }, ds.ClassNames);
            Assert.Equal(10, ds.Count);
            var skipped = Assert.Single(ds.SkippedFiles);
            Assert.Equal("UnsupportedImageFormat", skipped.ErrorId);
            Assert.EndsWith("notes.jpg", skipped.Path);
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public void PrefetchedBatchesEqualSynchronousOnesAndSkipFilesThatBrokeAfterImport()
    {
        var root = MakeFolder(withBadFile: false);
        try
        {
            var ds = ImageFolderDataset.Open(root);
            ds.CacheBudgetBytes = 0;
            // Break one file after import: the reader must skip it and say so.
            File.WriteAllBytes(ds.SourceOf(3), []);
            var order = new[] { 9, 3, 0, 4, 7, 1, 2 };
            var prefetching = new BatchReader(ds, 12, Identity) { PrefetchBatches = 2 };
            var direct = new BatchReader(ds, 12, Identity) { PrefetchBatches = 0 };
            var a = prefetching.Read(order, 3).ToList();
            var b = direct.Read(order, 3).ToList();
            Assert.Equal(a.Count, b.Count);
            Assert.Equal(new[] { 9, 0 }, a[0].Indices);
            for (int i = 0; i < a.Count; i++)
            {
                Assert.Equal(a[i].Indices, b[i].Indices);
                Assert.True(a[i].Images.allclose(b[i].Images));
                Assert.Equal(a[i].Indices.Select(ds.LabelOf).Select(l => (long)l), a[i].Labels.data<long>().ToArray());
            }
            var skipped = Assert.Single(prefetching.Skipped);
            Assert.Equal((3, "EmptyImageFile"), (skipped.Index, skipped.Error.ErrorId));
            foreach (var batch in a.Concat(b)) batch.Dispose();
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public void SubsetsOfFileDataSetsAreDecodedAndSubsetsOfIdxComeFromMemory()
    {
        var root = MakeFolder(withBadFile: false);
        try
        {
            var (train, validation) = DatasetSplit.Stratified(ImageFolderDataset.Open(root), 0.2, 1);
            Assert.False(train.IsInMemory);
            var batches = new BatchReader(validation, 8, Identity).Read([0, 1], 2).ToList();
            Assert.Equal(new[] { 0, 1 }, Assert.Single(batches).Indices);
            Assert.Equal(new long[] { validation.LabelOf(0), validation.LabelOf(1) }, batches[0].Labels.data<long>().ToArray());
            Assert.Equal(new long[] { 2, 3, 8, 8 }, batches[0].Images.shape);
            batches[0].Dispose();

            var idx = IdxDataset.Open(Path.Combine(TestFiles.RepositoryRoot(), "data", "fashion-mnist-sample"), new DatasetImportOptions { Split = "Test" });
            var (_, held) = DatasetSplit.Stratified(idx, 0.1, 1);
            Assert.True(held.IsInMemory);
            using var batch = new BatchReader(held, 28, Identity).Read([0, 1, 2], 3).Single();
            using var direct = idx.LoadBatch(held.ParentIndices.Take(3).ToArray(), 28);
            Assert.True(batch.Images.allclose(direct));
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public void StoppingEarlyEndsThePrefetchAndCancellationIsHonoured()
    {
        var root = MakeFolder(withBadFile: false);
        try
        {
            var ds = ImageFolderDataset.Open(root);
            var reader = new BatchReader(ds, 8, Identity) { PrefetchBatches = 1 };
            foreach (var batch in reader.Read(Enumerable.Range(0, 10).ToArray(), 1))
            {
                batch.Dispose();
                break; // must not hang on the producer blocked on a full channel
            }
            using var cancel = new CancellationTokenSource();
            cancel.Cancel();
            Assert.ThrowsAny<OperationCanceledException>(() => reader.Read(Enumerable.Range(0, 10).ToArray(), 2, cancel: cancel.Token).ToList());
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public void PrefetchedBatchesJoinTheCallersDisposeScope()
    {
        var root = MakeFolder(withBadFile: false);
        try
        {
            var ds = ImageFolderDataset.Open(root);
            var reader = new BatchReader(ds, 8, Identity) { PrefetchBatches = 2 };
            var kept = new List<Batch>();
            using (var scope = NewDisposeScope())
            {
                foreach (var batch in reader.Read(Enumerable.Range(0, 10).ToArray(), 4)) kept.Add(batch);
                Assert.All(kept, b => Assert.False(b.Images.IsInvalid));
            }
            Assert.All(kept, b => Assert.True(b.Images.IsInvalid && b.Labels.IsInvalid));
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public void DecodedPixelsAreCachedWithinTheBudgetOnly()
    {
        var root = MakeFolder(withBadFile: false);
        try
        {
            var ds = ImageFolderDataset.Open(root);
            using (ds.Load(0, 8)) { }
            Assert.Equal(1, ds.CachedCount);
            ds.ClearCache();
            ds.CacheBudgetBytes = 10 * 8 * 8 * 3 - 1; // one byte short of the whole set at 8×8
            using (ds.Load(0, 8)) { }
            Assert.Equal(0, ds.CachedCount);
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public void OnlineAugmentationIsReproducibleForASeed()
    {
        var ds = IdxDataset.Open(Path.Combine(TestFiles.RepositoryRoot(), "data", "fashion-mnist-sample"), new DatasetImportOptions { Split = "Test" });
        Tensor First(int seed)
        {
            var reader = new BatchReader(ds, 28, Identity) { Augmentation = ImageAugmentation.Authors, AugmentationSeed = seed };
            var batch = reader.Read([0, 1, 2, 3], 4).Single();
            batch.Labels.Dispose();
            return batch.Images;
        }
        using var a = First(5);
        using var b = First(5);
        using var c = First(6);
        using var plain = new BatchReader(ds, 28, Identity).Read([0, 1, 2, 3], 4).Single().Images;
        Assert.True(a.allclose(b, rtol: 0, atol: 0));
        Assert.False(a.allclose(c));
        Assert.False(a.allclose(plain));
    }

    [Fact]
    public void StratifiedSplitIsSeededDisjointAndKeepsClassProportions()
    {
        var ds = IdxDataset.Open(Path.Combine(TestFiles.RepositoryRoot(), "data", "fashion-mnist-sample"), new DatasetImportOptions { Split = "Test" });
        var (train, validation) = DatasetSplit.Stratified(ds, 0.2, seed: 3);
        Assert.Equal(800, train.Count);
        Assert.Equal(200, validation.Count);
        Assert.All(validation.CountPerClass(), c => Assert.Equal(20, c));
        Assert.Empty(train.ParentIndices.Intersect(validation.ParentIndices));
        var again = DatasetSplit.Stratified(ds, 0.2, seed: 3).Validation;
        Assert.Equal(validation.ParentIndices, again.ParentIndices);
        Assert.NotEqual(validation.ParentIndices, DatasetSplit.Stratified(ds, 0.2, seed: 4).Validation.ParentIndices);
        Assert.Equal(ds.LabelOf(validation.ParentIndices[5]), validation.LabelOf(5));
        Assert.Equal("InvalidValidationFraction", Assert.Throws<ProtoPNetException>(() => DatasetSplit.Stratified(ds, 1.0, 1)).ErrorId);
    }
}
