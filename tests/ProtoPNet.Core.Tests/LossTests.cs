using ProtoPNet.Training;
using Xunit;
using static TorchSharp.torch;

namespace ProtoPNet.Tests;

public class LossTests
{
    [Fact]
    public void TermsEqualHandComputationOnAFixedBatch()
    {
        // 4 prototypes: 0,1 of class 0; 2,3 of class 1. Three images with labels 0, 1, 0.
        float[,] d = { { 1f, 4f, 2f, 9f }, { 3f, 0.5f, 7f, 6f }, { 8f, 2.5f, 0.25f, 5f } };
        long[] y = { 0, 1, 0 };
        float[,] logits = { { 2f, -1f }, { 0.5f, 0.25f }, { -1f, 3f } };
        float[,] w = { { 1f, 1f, -0.5f, 0.3f }, { -0.5f, -2f, 1f, 1f } };   // [K=2, m=4]
        using var identity = tensor(new float[] { 1, 0, 1, 0, 0, 1, 0, 1 }, [4, 2]);
        using var terms = ProtoPNetLoss.Compute(tensor(logits), tensor(d), tensor(y), identity, tensor(w), LossCoefficients.Default);

        // Cluster: min over own-class prototypes; separation: min over the others.
        double clst = (Math.Min(1, 4) + Math.Min(7, 6) + Math.Min(8, 2.5)) / 3.0;
        double sep = (Math.Min(2, 9) + Math.Min(3, 0.5) + Math.Min(0.25, 5)) / 3.0;
        // L1 over wrong-class connections: class 0 ← prototypes 2, 3; class 1 ← prototypes 0, 1.
        double l1 = 0.5 + 0.3 + 0.5 + 2;
        double ce = 0;
        for (int i = 0; i < 3; i++)
        {
            double lse = Math.Log(Math.Exp(logits[i, 0]) + Math.Exp(logits[i, 1]));
            ce += lse - logits[i, y[i]];
        }
        ce /= 3;
        Assert.Equal(clst, terms.Cluster.item<float>(), 5);
        Assert.Equal(sep, terms.Separation.item<float>(), 5);
        Assert.Equal(l1, terms.L1.item<float>(), 5);
        Assert.Equal(ce, terms.CrossEntropy.item<float>(), 5);
        Assert.Equal(ce + 0.8 * clst - 0.08 * sep + 1e-4 * l1, terms.Total.item<float>(), 5);

        var custom = new LossCoefficients { CrossEntropy = 2, Cluster = 0, Separation = -1, L1 = 1 };
        using var customTerms = ProtoPNetLoss.Compute(tensor(logits), tensor(d), tensor(y), identity, tensor(w), custom);
        Assert.Equal(2 * ce - sep + l1, customTerms.Total.item<float>(), 4);
    }

    [Fact]
    public void ClusterGradientReachesOnlyTheNearestOwnPrototype()
    {
        using var d = tensor(new float[] { 1f, 4f, 2f, 9f }, [1, 4]).requires_grad_(true);
        using var identity = tensor(new float[] { 1, 0, 1, 0, 0, 1, 0, 1 }, [4, 2]);
        var coefficients = new LossCoefficients { CrossEntropy = 0, Cluster = 1, Separation = 0, L1 = 0 };
        using var terms = ProtoPNetLoss.Compute(zeros(1, 2), d, tensor(new long[] { 0 }), identity, zeros(2, 4), coefficients);
        terms.Total.backward();
        Assert.Equal(new float[] { 1, 0, 0, 0 }, d.grad!.data<float>().ToArray());
    }
}
