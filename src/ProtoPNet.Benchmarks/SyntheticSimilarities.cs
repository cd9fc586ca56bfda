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
                s[i * m + j] = LogSimilarity(distance);
            }
        }
        return (tensor(s, [count, m], ScalarType.Float64), tensor(y), WrongClassMask(classes, perClass));
    }

    /// <summary>
    /// Similarity vectors of a pushed ProtoPNet simulated in its latent space: each image is its class's mean plus Gaussian
    /// noise (<paramref name="spread"/> per dimension), each prototype is the latent of a random training image of its class
    /// (push puts it there), and similarities are log((d + 1)/(d + 1e-4)) of the squared distances d scaled by
    /// <paramref name="scale"/>. Classes overlap, so the optimum is attained, and the similarity columns of a class are
    /// strongly correlated as in a real pushed model — the regime where an undamped Newton model is nearly flat.
    /// </summary>
    /// <returns>As <see cref="Create"/>.</returns>
    public static (Tensor Similarities, Tensor Labels, Tensor WrongClassMask) CreateFromLatents(int count, int classes, int perClass,
        int dimensions, double spread, double scale, int seed)
    {
        var random = new Random(seed);
        double Gaussian() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var means = new double[classes, dimensions];
        for (int k = 0; k < classes; k++) for (int d = 0; d < dimensions; d++) means[k, d] = Gaussian();
        var latents = new double[count, dimensions];
        var y = new long[count];
        for (int i = 0; i < count; i++)
        {
            y[i] = i % classes;
            for (int d = 0; d < dimensions; d++) latents[i, d] = means[y[i], d] + spread * Gaussian();
        }
        int m = classes * perClass;
        var source = new int[m];   // image i belongs to class i % classes
        for (int j = 0; j < m; j++) source[j] = random.Next(count / classes) * classes + j / perClass;
        var s = new double[count * m];
        for (int i = 0; i < count; i++)
            for (int j = 0; j < m; j++)
            {
                double distance = 0;
                for (int d = 0; d < dimensions; d++)
                {
                    double difference = latents[i, d] - latents[source[j], d];
                    distance += difference * difference;
                }
                s[i * m + j] = LogSimilarity(scale * distance);
            }
        return (tensor(s, [count, m], ScalarType.Float64), tensor(y), WrongClassMask(classes, perClass));
    }

    /// <summary>ProtoPNet's similarity of a squared distance.</summary>
    private static double LogSimilarity(double distance) => Math.Log((distance + 1) / (distance + 1e-4));

    /// <summary>[K, K·perClass] float64, 1 where prototype j (of class j / perClass) does not belong to class k.</summary>
    private static Tensor WrongClassMask(int classes, int perClass)
    {
        int m = classes * perClass;
        var mask = new double[classes * m];
        for (int k = 0; k < classes; k++) for (int j = 0; j < m; j++) mask[k * m + j] = j / perClass == k ? 0 : 1;
        return tensor(mask, [classes, m], ScalarType.Float64);
    }
}
