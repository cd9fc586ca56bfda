using System.Collections;
using ProtoPNet.Model;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;
using static TorchSharp.torch;

namespace ProtoPNet.Tests;

/// <summary>
/// TorchSharp against PyTorch on golden files written by scripts/make-golden.py (Debian's python3-torch, plain
/// PyTorch with the formulas of docs/algorithm.md, distances by explicit differences): a tiny ProtoPNet's state dict in
/// PyTorch format, an input batch, and PyTorch's outputs. Compared in float64, relative error ≤ 1e-5.
/// </summary>
public class GoldenFileTests
{
    internal static string GoldenPath(string name) =>
        Path.Combine(AppContext.BaseDirectory, "golden", name);

    internal static Dictionary<string, Tensor> LoadPickle(string name)
    {
        var table = PyTorchUnpickler.UnpickleStateDict(GoldenPath(name));
        var result = new Dictionary<string, Tensor>();
        foreach (DictionaryEntry e in table) result[(string)e.Key] = (Tensor)e.Value!;
        return result;
    }

    /// <summary>The golden model: smallcnn, 3 classes × 2 prototypes of 32×2×2, weights from PyTorch, widened to float64.</summary>
    internal static ProtoPNetModel LoadGoldenModel()
    {
        var model = ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = "smallcnn", ImageSize = 28, PrototypeDepth = 32, PrototypeSize = 2 },
            ["a", "b", "c"], prototypesPerClass: 2);
        var state = LoadPickle("tiny-protopnet.pth");
        var target = model.Network.state_dict();
        Assert.Equal(target.Keys.OrderBy(k => k), state.Keys.OrderBy(k => k));
        using (torch.no_grad())
            foreach (var (name, tensor) in state) target[name].copy_(tensor);
        model.Network.to(ScalarType.Float64);
        model.Network.eval();
        return model;
    }

    internal static void AssertClose(Tensor expected, Tensor actual, double relative = 1e-5)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var e = expected.to(ScalarType.Float64);
        using var a = actual.to(ScalarType.Float64);
        double scale = Math.Max(e.abs().max().item<double>(), 1e-12);
        double error = (e - a).abs().max().item<double>() / scale;
        Assert.True(error <= relative, $"relative error {error:E2} > {relative:E0}");
    }

    [Fact]
    public void ForwardPassMatchesPyTorch()
    {
        using var model = LoadGoldenModel();
        var expected = LoadPickle("tiny-protopnet-expected.pth");
        using var _ = torch.no_grad();
        using var input = expected["input"].to(ScalarType.Float64);
        using var output = model.Network.forward(input);
        AssertClose(expected["min_distances"], output.MinDistances);
        using var similarities = model.Network.Similarities(output.MinDistances);
        AssertClose(expected["similarities"], similarities);
        AssertClose(expected["logits"], output.Logits);
    }

    [Fact]
    public void LossTermsMatchPyTorch()
    {
        using var model = LoadGoldenModel();
        var expected = LoadPickle("tiny-protopnet-expected.pth");
        using var _ = torch.no_grad();
        using var input = expected["input"].to(ScalarType.Float64);
        using var output = model.Network.forward(input);
        using var terms = ProtoPNet.Training.ProtoPNetLoss.Compute(output.Logits, output.MinDistances, expected["labels"],
            model.Network.PrototypeClassIdentity.to(ScalarType.Float64), model.Network.LastLayer.weight!,
            ProtoPNet.Training.LossCoefficients.Default);
        AssertClose(expected["cross_entropy"], terms.CrossEntropy.reshape(1));
        AssertClose(expected["cluster"], terms.Cluster.reshape(1));
        AssertClose(expected["separation"], terms.Separation.reshape(1));
        AssertClose(expected["l1"], terms.L1.reshape(1));
        AssertClose(expected["total"], terms.Total.reshape(1));
    }
}
