using ProtoPNet.Runtime;
using ProtoPNet.Model;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ProtoPNet.Tests;

/// <summary>
/// Training's nearest-patch distances (<see cref="PrototypeDistances.Nearest"/>): the values of the distance maps'
/// min-pool (bit for bit without gradients, to float32 rounding with them), and the gradient of the definition
/// ‖z − p‖² at the nearest patch.
/// </summary>
public class NearestPatchDistanceTests
{
    /// <summary>The definition, differentiable: every patch's ‖z − p‖² materialized, then the min over patches.</summary>
    private static Tensor Definition(Tensor z, Tensor p) =>
        (z.unsqueeze(1) - p.view(1, p.shape[0], p.shape[1], 1, 1)).square().sum(2).flatten(2).amin(2);

    private static (Tensor Z, Tensor P) Inputs(int images, int depth, int size, int prototypes, int seed)
    {
        var generator = new Generator((ulong)seed);
        return (torch.rand(images, depth, size, size, generator: generator), torch.rand(prototypes, depth, 1, 1, generator: generator));
    }

    private static (float[] Z, float[] P) Gradients(Func<Tensor, Tensor, Tensor> distances, Tensor z0, Tensor p0, Tensor weight)
    {
        using var scope = NewDisposeScope();
        var z = z0.detach().clone().requires_grad_(true);
        var p = p0.detach().clone().requires_grad_(true);
        (distances(z, p) * weight).sum().backward();
        return (z.grad!.data<float>().ToArray(), p.grad!.data<float>().ToArray());
    }

    private static void AssertClose(float[] expected, float[] actual, double relative)
    {
        double scale = expected.Max(Math.Abs);
        Assert.True(scale > 0, "the reference gradient is zero: the test would not see anything");
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= relative * scale, $"element {i}: {expected[i]} vs {actual[i]}");
    }

    [Theory]
    [InlineData(4, 20)]
    [InlineData(3, 300)]
    [InlineData(13, 2000)]   // the CUB count of prototypes, an odd number of images
    public void ValuesEqualTheMinPoolOfTheDistanceMaps(int images, int prototypes)
    {
        var (z, p) = Inputs(images, 32, 7, prototypes, seed: 3);
        using var maps = PrototypeDistances.Compute(z, p);
        var expected = PrototypeDistances.MinOverPatches(maps).data<float>().ToArray();
        // Without gradients (evaluation, explanations): the maps' own min-pool, bit for bit.
        using (no_grad())
            Assert.True(TestData.BitIdentical(expected, PrototypeDistances.Nearest(z, p).data<float>().ToArray()));
        // With them (training): the GEMM form, equal to float32 rounding of a 32-term dot product.
        using var zg = z.clone().requires_grad_(true);
        var trained = PrototypeDistances.Nearest(zg, p).detach().data<float>().ToArray();
        AssertClose(expected, trained, 1e-6);
    }

    [Theory]
    [InlineData(4, 12)]
    [InlineData(5, 6000)]   // a product too large for one cache: each image's nearest index must stay its own
    public void GradientEqualsTheDefinitionsGradient(int images, int prototypes)
    {
        var (z, p) = Inputs(images, depth: 16, size: 5, prototypes, seed: 5);
        // One prototype sits exactly on a patch: distance 0 (or its rounding, clamped at 0), gradient 0 in both.
        p[3] = z[1, TensorIndex.Colon, 2, 4].view(16, 1, 1);
        using (no_grad())
        {
            // The comparison holds where the nearest patch is unique: the min's gradient is then that patch's alone.
            var maps = PrototypeDistances.Compute(z, p).flatten(2);
            Assert.Equal(0, maps.eq(maps.amin(new long[] { 2 }, keepdim: true)).sum(2).gt(1).sum().item<long>());
        }
        var weight = torch.rand(images, prototypes, generator: new Generator(9));
        var expected = Gradients(Definition, z, p, weight);
        var actual = Gradients(PrototypeDistances.Nearest, z, p, weight);
        AssertClose(expected.Z, actual.Z, 1e-5);
        AssertClose(expected.P, actual.P, 1e-5);
    }

    [Fact]
    public void NaNPatchMakesItsImagesDistancesNaNAsTheMinPoolDoes()
    {
        // A diverged latent must not hide behind the other patches' finite distances (the trainer stops on a NaN loss).
        var (z, p) = Inputs(images: 3, depth: 32, size: 7, prototypes: 20, seed: 8);
        z[1, 5, 3, 2] = float.NaN;   // image 1, one channel of a middle patch
        z[2, 0, 6, 6] = float.NaN;   // image 2, its last patch
        using var zg = z.clone().requires_grad_(true);
        using var distances = PrototypeDistances.Nearest(zg, p).detach();
        Assert.True(distances[0].isnan().logical_not().all().item<bool>());
        Assert.True(distances[1].isnan().all().item<bool>());
        Assert.True(distances[2].isnan().all().item<bool>());
    }

    [Fact]
    public void TiedPatchesGiveThePrototypeTheSameGradient()
    {
        // Identical patches (a plain background) tie exactly. The definition's min splits the gradient among them;
        // the nearest-patch backward gives it to one. Both are gradients of the same function: the prototype's is
        // the same, and the patches' sum over the tied group is the same.
        var (z, p) = Inputs(images: 2, depth: 8, size: 4, prototypes: 6, seed: 11);
        z[TensorIndex.Colon, TensorIndex.Colon, 0, TensorIndex.Colon] = p[0].view(1, 8, 1).Mul(0.9);
        var weight = torch.rand(2, 6, generator: new Generator(4));
        var expected = Gradients(Definition, z, p, weight);
        var actual = Gradients(PrototypeDistances.Nearest, z, p, weight);
        AssertClose(expected.P, actual.P, 1e-5);
        var group = Enumerable.Range(0, 2).Select(n => Enumerable.Range(0, 8).Select(c =>
        {
            int first = ((n * 8 + c) * 4 + 0) * 4;
            return (Expected: expected.Z.Skip(first).Take(4).Sum(), Actual: actual.Z.Skip(first).Take(4).Sum());
        })).SelectMany(x => x).ToArray();
        AssertClose(group.Select(g => g.Expected).ToArray(), group.Select(g => g.Actual).ToArray(), 1e-5);
        // And the nearest-patch backward really ran: the patches' gradients are split differently from the definition's.
        Assert.True(expected.Z.Zip(actual.Z).Max(pair => Math.Abs(pair.First - pair.Second)) > 1e-3 * expected.Z.Max(Math.Abs));
    }

    [Fact]
    public void LargerPrototypesTakeTheMapsPath()
    {
        var generator = new Generator(2);
        var z = torch.rand(2, 8, 5, 5, generator: generator);
        var p = torch.rand(3, 8, 2, 2, generator: generator);
        var weight = torch.rand(2, 3, generator: generator);
        // One thread: a bit-for-bit comparison must not depend on how many threads a loaded machine's OpenMP runtime
        // gives each reduction (the full suite under load average 9 once saw the two runs differ in the last bit).
        int threads = torch.get_num_threads();
        torch.set_num_threads(1);
        try
        {
            var expected = Gradients((a, b) => PrototypeDistances.MinOverPatches(PrototypeDistances.Compute(a, b)), z, p, weight);
            var actual = Gradients(PrototypeDistances.Nearest, z, p, weight);
            Assert.True(TestData.BitIdentical(expected.Z, actual.Z));
            Assert.True(TestData.BitIdentical(expected.P, actual.P));
        }
        finally { torch.set_num_threads(threads); }
    }

    [Fact]
    public void BackwardPassesFreeWhatTheyKeep()
    {
        // Each graph keeps its patches (here 1.6 MB): if the custom node leaked them, 300 steps would hold about 480 MB.
        var (z0, p0) = Inputs(images: 64, depth: 128, size: 7, prototypes: 50, seed: 1);
        for (int i = 0; i < 20; i++) Step();
        GC.Collect(); GC.WaitForPendingFinalizers();
        long before = Environment.WorkingSet;
        for (int i = 0; i < 300; i++) Step();
        GC.Collect(); GC.WaitForPendingFinalizers();
        long grown = Environment.WorkingSet - before;
        Assert.True(grown < 100L << 20, $"resident memory grew by {grown >> 20} MB over 300 steps");

        void Step()
        {
            using var scope = NewDisposeScope();
            var z = z0.clone().requires_grad_(true);
            PrototypeDistances.Nearest(z, p0.clone().requires_grad_(true)).sum().backward();
        }
    }
}
