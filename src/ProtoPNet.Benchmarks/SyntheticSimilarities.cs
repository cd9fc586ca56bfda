using static TorchSharp.torch;

namespace ProtoPNet.Benchmarks;

/// <summary>
/// Post-push-like similarity vectors for testing and benchmarking last-layer solvers without training a network:
/// log similarities log((d + 1)/(d + 1e-4)) of squared distances d that are small to a few of the own class's prototypes
/// (up to ~9, as for a pushed prototype's source image) and larger elsewhere, with a share of hard, ambiguous images.
/// Nearly separable and ill-conditioned — the regime where proximal gradient needs thousands of iterations.
/// </summary>
public static class SyntheticSimilarities
{
    /// <returns>Similarities [N, K·perClass] float64, labels [N] int64, wrong-class mask [K, K·perClass] float64
    /// (prototype j belongs to class j / perClass).</returns>
    public static (Tensor Similarities, Tensor Labels, Tensor WrongClassMask) Create(int count, int classes, int perClass, int seed)
    {
        var random = new Random(seed);
        int m = classes * perClass;
        var s = new double[count * m];
        var y = new long[count];
        for (int i = 0; i < count; i++)
        {
            int label = i % classes;
            y[i] = label;
            bool hard = random.NextDouble() < 0.1;
            int confusedWith = hard ? random.Next(classes) : label;
            for (int j = 0; j < m; j++)
            {
                int owner = j / perClass;
                double u = random.NextDouble();
                double distance = owner == label && !hard ? 0.02 + 3 * u * u * u
                    : owner == confusedWith ? 0.3 + 2 * u
                    : 1.5 + 3 * u;
                s[i * m + j] = Math.Log((distance + 1) / (distance + 1e-4));
            }
        }
        var mask = new double[classes * m];
        for (int k = 0; k < classes; k++) for (int j = 0; j < m; j++) mask[k * m + j] = j / perClass == k ? 0 : 1;
        return (tensor(s, [count, m], ScalarType.Float64), tensor(y), tensor(mask, [classes, m], ScalarType.Float64));
    }
}
