using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;
using ProtoPNet.Optimization;

namespace ProtoPNet.Tests;

/// <summary>The one-pass Adam against TorchSharp's Adam: same updates to float32 rounding, same state format.</summary>
public sealed class FusedAdamTests
{
    // Sizes: below the parallel threshold with a scalar tail (7), and split across threads (300,001).
    private static Parameter[] Parameters(int seed) =>
    [
        new Parameter(torch.randn(7, generator: new Generator((ulong)seed))),
        new Parameter(torch.randn(300_001, generator: new Generator((ulong)seed + 1))),
        new Parameter(torch.randn(64, 3, 3, 3, generator: new Generator((ulong)seed + 2))),
    ];

    private static Adam.ParamGroup[] Groups(Parameter[] p) =>
    [
        new([p[0], p[1]], 3e-3, 0.9, 0.999, 1e-8, 1e-3, false, false),   // with weight decay
        new([p[2]], 1e-4, 0.9, 0.999, 1e-8, 0, false, false),
    ];

    private static void SetGradients(Parameter[] parameters, int step)
    {
        for (int i = 0; i < parameters.Length; i++)
            parameters[i].grad = torch.randn(parameters[i].shape, generator: new Generator((ulong)(100 * step + i))) * (i + 1);
    }

    private static float[] Values(Tensor t) => t.detach().contiguous().data<float>().ToArray();

    private static double LargestRelativeGap(Parameter[] a, Parameter[] b) =>
        a.Zip(b).Max(pair => (pair.First - pair.Second).abs().max().item<float>() / pair.Second.abs().max().item<float>());

    [Fact]
    public void StepsMatchTorchSharpsAdamAndAdamsSavedStateResumesInIt()
    {
        var fusedParameters = Parameters(1);
        var referenceParameters = Parameters(1);
        using var fused = new FusedAdam(Groups(fusedParameters), 3e-3);
        using var reference = new Adam(Groups(referenceParameters), 3e-3, 0.9, 0.999, 1e-8, 0, false, false);
        for (int step = 1; step <= 6; step++)
        {
            SetGradients(fusedParameters, step);
            SetGradients(referenceParameters, step);
            fused.step();
            reference.step();
        }
        double gap = LargestRelativeGap(fusedParameters, referenceParameters);
        Assert.True(gap < 1e-6, $"largest relative gap {gap:E2} after 6 steps");
        Assert.True(fusedParameters.Zip(Parameters(1)).All(p => !TestData.BitIdentical(Values(p.First), Values(p.Second))), "the parameters did not move");

        // Adam's saved state (a checkpoint written before the fused class) loads into it and continues the trajectory.
        var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) reference.save_state_dict(writer);
        using var loaded = new FusedAdam(Groups(fusedParameters), 3e-3);
        loaded.LoadState(stream.ToArray());
        SetGradients(fusedParameters, 7);
        SetGradients(referenceParameters, 7);
        loaded.step();
        reference.step();
        gap = LargestRelativeGap(fusedParameters, referenceParameters);
        Assert.True(gap < 1e-6, $"largest relative gap {gap:E2} after resuming from Adam's state");
    }

    [Fact]
    public void ANonContiguousGradientTakesAdamsTensorPath()
    {
        var fusedParameter = new Parameter(torch.randn(40, 30, generator: new Generator(5)));
        var referenceParameter = new Parameter(torch.randn(40, 30, generator: new Generator(5)));
        using var fused = new FusedAdam([new Adam.ParamGroup([fusedParameter], 1e-2, 0.9, 0.999, 1e-8, 1e-3, false, false)], 1e-2);
        using var reference = new Adam([new Adam.ParamGroup([referenceParameter], 1e-2, 0.9, 0.999, 1e-8, 1e-3, false, false)], 1e-2, 0.9, 0.999, 1e-8, 0, false, false);
        for (int step = 1; step <= 3; step++)
        {
            var grad = torch.randn(30, 40, generator: new Generator((ulong)step));
            fusedParameter.grad = grad.t();          // a transposed view: not contiguous
            referenceParameter.grad = grad.t().contiguous();
            Assert.False(fusedParameter.grad!.is_contiguous());
            fused.step();
            reference.step();
        }
        Assert.True(TestData.BitIdentical(Values(fusedParameter), Values(referenceParameter)), "the tensor path is Adam's own arithmetic and must agree bit for bit");
    }
}
