using ProtoPNet.Model;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ProtoPNet.Tests;

public class PrototypeDistanceTests
{
    /// <summary>‖z̃ − p‖² by explicit loops over every patch, the definition the conv trick must match.</summary>
    private static float[,,,] Direct(Tensor z, Tensor p)
    {
        var zs = z.data<float>().ToArray(); var ps = p.data<float>().ToArray();
        int n = (int)z.shape[0], d = (int)z.shape[1], H = (int)z.shape[2], W = (int)z.shape[3];
        int m = (int)p.shape[0], h = (int)p.shape[2], w = (int)p.shape[3];
        var result = new float[n, m, H - h + 1, W - w + 1];
        for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++)
        for (int r = 0; r <= H - h; r++)
        for (int c = 0; c <= W - w; c++)
        {
            double sum = 0;
            for (int k = 0; k < d; k++)
            for (int a = 0; a < h; a++)
            for (int b = 0; b < w; b++)
            {
                double diff = zs[((i * d + k) * H + r + a) * W + c + b] - ps[((j * d + k) * h + a) * w + b];
                sum += diff * diff;
            }
            result[i, j, r, c] = (float)sum;
        }
        return result;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void DistancesEqualDirectComputationOverAllPatches(int patch)
    {
        torch.manual_seed(7);
        using var z = torch.rand(2, 16, 6, 5);
        using var p = torch.rand(4, 16, patch, patch);
        using var d = PrototypeDistances.Compute(z, p);
        var expected = Direct(z, p);
        Assert.Equal(new long[] { 2, 4, 7 - patch, 6 - patch }, d.shape);
        var actual = d.data<float>().ToArray();
        int idx = 0;
        // float32 conv arithmetic: agree to 1e-5 relative to the magnitudes involved.
        foreach (var e in expected) { float a = actual[idx++]; Assert.True(Math.Abs(e - a) <= 1e-5 * Math.Max(1, Math.Abs(e)), $"{e} vs {a}"); }
    }

    [Fact]
    public void MinPoolPicksTheNearestPatch()
    {
        using var z = torch.rand(1, 8, 4, 4);
        using var p = torch.rand(1, 8, 1, 1);
        // Plant the prototype itself at row 2, column 3: its distance there is 0, the minimum.
        z[0, TensorIndex.Colon, 2, 3] = p[0, TensorIndex.Colon, 0, 0];
        using var d = PrototypeDistances.Compute(z, p);
        using var min = PrototypeDistances.MinOverPatches(d);
        Assert.Equal(0f, min[0, 0].item<float>(), 5);
        using var argmin = d.flatten(2).argmin(2);
        Assert.Equal(2 * 4 + 3, argmin[0, 0].item<long>());
    }

    [Fact]
    public void LogSimilarityIsLogOfRatio()
    {
        using var d = torch.tensor(new float[] { 0f, 0.5f, 2f, 100f });
        using var s = PrototypeDistances.Similarity(d, SimilarityKind.Log, 1e-4);
        var values = s.data<float>().ToArray();
        float[] input = [0f, 0.5f, 2f, 100f];
        for (int i = 0; i < 4; i++) Assert.Equal(Math.Log((input[i] + 1) / (input[i] + 1e-4)), values[i], 4);
        using var linear = PrototypeDistances.Similarity(d, SimilarityKind.Linear, 1e-4);
        Assert.Equal(-2f, linear[2].item<float>());
    }
}
