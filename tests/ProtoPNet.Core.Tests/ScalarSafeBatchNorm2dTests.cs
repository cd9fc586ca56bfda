using ProtoPNet.Model.Backbones;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ProtoPNet.Tests;

/// <summary>The backbones' BatchNorm against TorchSharp's: same names, same outputs and statistics bit for bit.</summary>
public sealed class ScalarSafeBatchNorm2dTests
{
    private static float[] Values(Tensor t) => t.detach().to(ScalarType.Float32).contiguous().data<float>().ToArray();

    [Fact]
    public void TrainsAndNormalizesExactlyAsTorchSharpsBatchNorm2d()
    {
        using var reference = nn.BatchNorm2d(6);
        using var safe = ScalarSafeBatchNorm2d.Create(6);
        var referenceState = reference.state_dict();
        var safeState = safe.state_dict();
        Assert.Equal(referenceState.Keys.Order(), safeState.Keys.Order());
        foreach (var key in referenceState.Keys)
        {
            Assert.Equal(referenceState[key].dtype, safeState[key].dtype);
            Assert.Equal(referenceState[key].shape, safeState[key].shape);
            Assert.True(TestData.BitIdentical(Values(referenceState[key]), Values(safeState[key])), key);
        }
        using (no_grad())
        {
            reference.weight!.copy_(torch.rand(6, generator: new Generator(1)));
            safe.Weight.copy_(reference.weight);
        }

        reference.train();
        safe.train();
        for (int step = 0; step < 3; step++)
        {
            using var input = torch.randn(4, 6, 5, 5, generator: new Generator((ulong)step + 10));
            Assert.True(TestData.BitIdentical(Values(reference.forward(input)), Values(safe.forward(input))), $"train step {step}");
        }
        referenceState = reference.state_dict();
        safeState = safe.state_dict();
        foreach (var key in referenceState.Keys)
            Assert.True(TestData.BitIdentical(Values(referenceState[key]), Values(safeState[key])), $"{key} after 3 batches");
        Assert.Equal(3L, safeState["num_batches_tracked"].item<long>());

        reference.eval();
        safe.eval();
        using var test = torch.randn(2, 6, 5, 5, generator: new Generator(20));
        Assert.True(TestData.BitIdentical(Values(reference.forward(test)), Values(safe.forward(test))), "eval");
        Assert.Equal(3L, safe.state_dict()["num_batches_tracked"].item<long>());   // eval does not count
    }
}
