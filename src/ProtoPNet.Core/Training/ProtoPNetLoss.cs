using ProtoPNet.Model;
using TorchSharp;
using ProtoPNet.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ProtoPNet.Training;

/// <summary>
/// Weights of the loss terms: total = CE·CrossEntropy + Clst·Cluster + Sep·Separation + L1·L1.
/// The authors' defaults are 1, 0.8, −0.08 and 1e-4 (separation is subtracted: far from other classes is good).
/// </summary>
public sealed record LossCoefficients
{
    public double CrossEntropy { get; init; } = 1.0;
    public double Cluster { get; init; } = 0.8;
    public double Separation { get; init; } = -0.08;
    public double L1 { get; init; } = 1e-4;

    public static LossCoefficients Default { get; } = new();
}

/// <summary>The loss of one batch, with each named term as a scalar tensor (Total carries the graph).</summary>
public sealed class LossTerms : IDisposable
{
    public required Tensor Total { get; init; }
    public required Tensor CrossEntropy { get; init; }
    public required Tensor Cluster { get; init; }
    public required Tensor Separation { get; init; }
    public required Tensor L1 { get; init; }

    public void Dispose()
    {
        Total.Dispose();
        CrossEntropy.Dispose();
        Cluster.Dispose();
        Separation.Dispose();
        L1.Dispose();
    }
}

/// <summary>The ProtoPNet training objective (docs/algorithm.md §4).</summary>
public static class ProtoPNetLoss
{
    /// <summary>
    /// <paramref name="logits"/> [N,K], <paramref name="minDistances"/> [N,m], <paramref name="labels"/> [N] int64,
    /// <paramref name="prototypeClassIdentity"/> [m,K] one-hot, <paramref name="lastLayerWeight"/> [K,m].
    /// Clst = mean over images of the min distance to a prototype of the image's class;
    /// Sep = mean over images of the min distance to a prototype of any other class (0 when no other class has prototypes);
    /// L1 = Σ |w_kj| over the connections from prototype j to a class k it does not belong to.
    /// </summary>
    public static LossTerms Compute(Tensor logits, Tensor minDistances, Tensor labels, Tensor prototypeClassIdentity,
        Tensor lastLayerWeight, LossCoefficients coefficients)
    {
        using var scope = NewDisposeScope();
        var crossEntropy = cross_entropy(logits, labels);
        // own[i, j]: prototype j belongs to image i's class.
        var own = prototypeClassIdentity.index_select(1, labels).t().to(ScalarType.Bool);
        var cluster = MaskedMin(minDistances, own).mean();
        var separation = MaskedMin(minDistances, own.logical_not()).mean();
        var wrongConnections = prototypeClassIdentity.t().RSub(1);
        var l1 = (lastLayerWeight * wrongConnections).abs().sum();
        // ScalarMath, not operators: a Scalar made on the fly can be freed while libtorch reads it (docs/performance.md, "Scalars").
        var total = crossEntropy.Mul(coefficients.CrossEntropy).Add(cluster.Mul(coefficients.Cluster))
            .Add(separation.Mul(coefficients.Separation)).Add(l1.Mul(coefficients.L1));
        return new LossTerms
        {
            Total = total.MoveToOuterDisposeScope(),
            CrossEntropy = crossEntropy.MoveToOuterDisposeScope(),
            Cluster = cluster.MoveToOuterDisposeScope(),
            Separation = separation.MoveToOuterDisposeScope(),
            L1 = l1.MoveToOuterDisposeScope(),
        };
    }

    /// <summary>Row-wise min of <paramref name="distances"/> over the entries where <paramref name="mask"/> is true; 0 for an empty row.</summary>
    private static Tensor MaskedMin(Tensor distances, Tensor mask)
    {
        var masked = distances.MaskedFill(mask.logical_not(), double.PositiveInfinity).amin(1);
        var any = mask.any(1);
        return torch.where(any, masked, torch.zeros_like(masked));
    }
}
