using ProtoPNet.Benchmarks;
using ProtoPNet.LastLayer;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ProtoPNet.Tests;

public class LastLayerTests
{
    private const int N = 120, M = 6, K = 3;

    /// <summary>A small non-separable problem: similarity vectors that lean towards their class's prototypes, with noise.</summary>
    private static (double[,] S, int[] Y, double[,] Mask) Problem(int seed)
    {
        var random = new Random(seed);
        var s = new double[N, M];
        var y = new int[N];
        for (int i = 0; i < N; i++)
        {
            y[i] = i % K;
            for (int j = 0; j < M; j++) s[i, j] = random.NextDouble() * 2 + (j / 2 == y[i] ? 0.8 : 0);
        }
        var mask = new double[K, M];
        for (int k = 0; k < K; k++) for (int j = 0; j < M; j++) mask[k, j] = j / 2 == k ? 0 : 1;
        return (s, y, mask);
    }

    private static double Objective(double[,] s, int[] y, double[,] mask, double[,] w, double lambda, double[,]? gradient = null)
    {
        double loss = 0;
        if (gradient is not null) Array.Clear(gradient);
        var z = new double[K];
        for (int i = 0; i < N; i++)
        {
            double max = double.NegativeInfinity;
            for (int k = 0; k < K; k++) { z[k] = 0; for (int j = 0; j < M; j++) z[k] += w[k, j] * s[i, j]; max = Math.Max(max, z[k]); }
            double sum = 0;
            for (int k = 0; k < K; k++) sum += Math.Exp(z[k] - max);
            loss += max + Math.Log(sum) - z[y[i]];
            if (gradient is null) continue;
            for (int k = 0; k < K; k++)
            {
                double r = Math.Exp(z[k] - max) / sum - (k == y[i] ? 1 : 0);
                for (int j = 0; j < M; j++) gradient[k, j] += r * s[i, j] / N;
            }
        }
        double penalty = 0;
        for (int k = 0; k < K; k++) for (int j = 0; j < M; j++) penalty += mask[k, j] * Math.Abs(w[k, j]);
        return loss / N + lambda * penalty;
    }

    /// <summary>The reference: plain ISTA with a fixed safe step, run for very long, written independently in plain C#.</summary>
    private static double[,] ReferenceIsta(double[,] s, int[] y, double[,] mask, double lambda, int iterations)
    {
        double frobenius = 0;
        foreach (var v in s) frobenius += v * v;
        double step = 1 / (frobenius / N);   // ‖S‖²_F / N bounds the Lipschitz constant of the mean softmax CE gradient
        var w = new double[K, M];
        var g = new double[K, M];
        for (int t = 0; t < iterations; t++)
        {
            Objective(s, y, mask, w, lambda, g);
            for (int k = 0; k < K; k++)
            for (int j = 0; j < M; j++)
            {
                double v = w[k, j] - step * g[k, j];
                w[k, j] = mask[k, j] > 0 ? Math.Sign(v) * Math.Max(0, Math.Abs(v) - step * lambda) : v;
            }
        }
        return w;
    }

    private static Tensor ToTensor(double[,] a) => torch.tensor(a.Cast<double>().ToArray(), [a.GetLength(0), a.GetLength(1)], ScalarType.Float64);

    private static SolveResult Solve(string method, Tensor s, Tensor labels, Tensor mask, Tensor start, double lambda, double tolerance, int maxIterations = 10000) =>
        method == "Newton"
            ? LastLayerSolver.Newton(s, labels, mask, start, lambda, tolerance, maxIterations)
            : LastLayerSolver.Fista(s, labels, mask, start, lambda, tolerance, maxIterations);

    [Theory]
    [InlineData("Newton")]
    [InlineData("Fista")]
    public void ExactSolversReachTheOptimumOfALongReferenceRun(string method)
    {
        var (s, y, mask) = Problem(1);
        const double lambda = 0.02;
        var reference = ReferenceIsta(s, y, mask, lambda, 60000);
        double referenceObjective = Objective(s, y, mask, reference, lambda);
        using var labels = torch.tensor(y.Select(v => (long)v).ToArray());
        var start = new double[K, M];
        for (int k = 0; k < K; k++) for (int j = 0; j < M; j++) start[k, j] = mask[k, j] > 0 ? -0.5 : 1;
        var result = Solve(method, ToTensor(s), labels, ToTensor(mask), ToTensor(start), lambda, tolerance: 1e-8);
        Assert.Equal(method, result.Method);
        Assert.True(result.Converged, $"optimality {result.Optimality}");
        Assert.True(result.Optimality <= 1e-8);
        var w = result.Weight.data<double>().ToArray();
        var wArray = new double[K, M];
        for (int k = 0; k < K; k++) for (int j = 0; j < M; j++) wArray[k, j] = w[k * M + j];
        double objective = Objective(s, y, mask, wArray, lambda);
        Assert.Equal(objective, result.Objective, 9);
        Assert.True(objective <= referenceObjective * (1 + 1e-9), $"{method} {objective} vs reference {referenceObjective}");
        Assert.True(referenceObjective - objective < 1e-6, $"{method} {objective} far below the reference {referenceObjective}: the reference did not converge");
        // W itself need not be unique (adding a vector to every row leaves the loss unchanged, and an even number of
        // wrong-class entries per column leaves a flat stretch of the penalty), but the predicted probabilities are.
        using var p = torch.softmax(ToTensor(s).matmul(ToTensor(wArray).t()), 1);
        using var pReference = torch.softmax(ToTensor(s).matmul(ToTensor(reference).t()), 1);
        Assert.True((p - pReference).abs().max().item<double>() < 1e-3);
    }

    [Theory]
    [InlineData("Newton")]
    [InlineData("Fista")]
    public void LargerLambdaZeroesMoreWrongClassWeightsAndAllAboveTheGradientBound(string method)
    {
        var (s, y, mask) = Problem(2);
        using var labels = torch.tensor(y.Select(v => (long)v).ToArray());
        double previous = -1;
        foreach (double lambda in new[] { 1e-4, 1e-2, 5e-2, 0.2, 5.0 })
        {
            var result = Solve(method, ToTensor(s), labels, ToTensor(mask), torch.zeros(K, M, dtype: ScalarType.Float64), lambda, tolerance: 1e-7);
            Assert.True(result.Converged);
            using var wrong = ToTensor(mask).to(ScalarType.Bool);
            double sparsity = result.Weight.eq(0).logical_and(wrong).sum().item<long>() / (double)wrong.sum().item<long>();
            Assert.True(sparsity >= previous, $"λ {lambda}: sparsity {sparsity} fell below {previous}");
            previous = sparsity;
            // Own-class weights are never penalized.
            Assert.True(result.Weight.masked_select(wrong.logical_not()).abs().min().item<double>() > 0);
        }
        Assert.Equal(1.0, previous);   // λ = 5 exceeds every |∂f/∂w| (similarities ≤ 3): all wrong-class weights are zero
    }

    [Fact]
    public void NewtonConvergesOnIllConditionedPostPushLikeVectorsWhereFistaStalls()
    {
        var (s, labels, mask) = SyntheticSimilarities.Create(1000, 10, 10, seed: 5);
        using var start = 1 - 1.5 * mask;   // the authors' initialization: 1 own class, −0.5 elsewhere
        const double lambda = 1e-4, tolerance = 1e-6;
        var newton = LastLayerSolver.Newton(s, labels, mask, start, lambda, tolerance, maxIterations: 100);
        Assert.True(newton.Converged, $"Newton: optimality {newton.Optimality} after {newton.Iterations} iterations");
        Assert.True(newton.Optimality <= tolerance);
        Assert.Equal(newton.Optimality, LastLayerSolver.Optimality(s, labels, newton.Weight, mask, lambda), 12);
        // Twenty times Newton's iteration count still leaves FISTA short: this is the problem that needs the second-order method.
        var fista = LastLayerSolver.Fista(s, labels, mask, start, lambda, tolerance, maxIterations: 20 * Math.Max(10, newton.Iterations));
        Assert.False(fista.Converged, $"FISTA converged in {fista.Iterations}: the problem is not ill-conditioned enough to test anything");
        Assert.True(newton.Objective <= fista.Objective, $"Newton {newton.Objective} vs FISTA {fista.Objective}");
        // Some wrong-class weights are exactly zero at λ = 1e-4, others not: the L1 term is active, not trivial.
        using var wrong = mask.to(ScalarType.Bool);
        long zeros = newton.Weight.eq(0).logical_and(wrong).sum().item<long>();
        Assert.InRange(zeros, 1, wrong.sum().item<long>() - 1);
    }

    [Fact]
    public void NewtonRunsOwlQnBeyondTheDenseHessianLimit()
    {
        int perClass = LastLayerSolver.MaxNewtonVariables / 4 + 1;   // 2 classes × 2·perClass prototypes > the limit
        var (s, labels, mask) = SyntheticSimilarities.Create(40, 2, perClass, seed: 1);
        var result = LastLayerSolver.Newton(s, labels, mask, torch.zeros(2, 2 * perClass, dtype: ScalarType.Float64), 1e-2, 1e-3, maxIterations: 20);
        Assert.Equal("OwlQn", result.Method);
    }

    /// <summary>OWL-QN to the tolerance, asserting it converged and that its reported optimality is the certificate recomputed from its weights.</summary>
    private static SolveResult ConvergedOwlQn(Tensor s, Tensor labels, Tensor mask, Tensor start, double lambda, double tolerance)
    {
        var result = LastLayerSolver.OwlQn(s, labels, mask, start, lambda, tolerance, maxIterations: 5000);
        Assert.True(result.Converged, $"OWL-QN: optimality {result.Optimality} after {result.Iterations} iterations");
        Assert.Equal(result.Optimality, LastLayerSolver.Optimality(s, labels, result.Weight, mask, lambda), 12);
        return result;
    }

    [Fact]
    public void OwlQnReachesNewtonsOptimumOnIllConditionedPostPushLikeVectors()
    {
        var (s, labels, mask) = SyntheticSimilarities.Create(1000, 10, 10, seed: 5);
        using var start = 1 - 1.5 * mask;
        const double lambda = 1e-4, tolerance = 1e-6;
        var newton = LastLayerSolver.Newton(s, labels, mask, start, lambda, tolerance, maxIterations: 100);
        var owlQn = ConvergedOwlQn(s, labels, mask, start, lambda, tolerance);
        // Both stop at optimality 1e-6; on these nearly separable vectors the objective is flat enough there that the two
        // stopping points differ by ~2e-6 relative (measured 0.1230170 vs 0.1230168).
        Assert.True(Math.Abs(owlQn.Objective - newton.Objective) <= 1e-5 * newton.Objective,
            $"OWL-QN {owlQn.Objective} vs Newton {newton.Objective}");
        // The weights themselves are not compared: this flat a minimum leaves them free to ~0.04 at equal objective.
        using var wrong = mask.to(ScalarType.Bool);
        long zeros = owlQn.Weight.eq(0).logical_and(wrong).sum().item<long>();
        Assert.InRange(zeros, 1, wrong.sum().item<long>() - 1);
    }

    [Fact]
    public void OwlQnMatchesTheIndependentReferenceOnASmallProblem()
    {
        var (sArray, y, maskArray) = Problem(11);
        const double lambda = 0.02;
        var reference = ReferenceIsta(sArray, y, maskArray, lambda, 200_000);
        using var s = torch.tensor(sArray);
        using var labels = torch.tensor(y.Select(v => (long)v).ToArray());
        using var mask = torch.tensor(maskArray);
        var result = LastLayerSolver.OwlQn(s, labels, mask, torch.zeros(K, M, dtype: ScalarType.Float64), lambda, 1e-9, 5000);
        Assert.True(result.Converged);
        Assert.Equal(Objective(sArray, y, maskArray, reference, lambda), result.Objective, 9);
    }

    [Fact]
    public void OwlQnConvergesAtTwoThousandPrototypes()
    {
        // The CUB count of prototypes (10 classes × 200 here, 20,000 weights): FISTA stops unconverged at this size.
        var (s, labels, mask) = SyntheticSimilarities.Create(2000, 10, 200, seed: 3);
        using var start = 1 - 1.5 * mask;
        const double lambda = 1e-4, tolerance = 1e-6;
        var result = ConvergedOwlQn(s, labels, mask, start, lambda, tolerance);
        // A long first-order run from the same start ends no lower: the optimality certificate is not an artefact.
        var fista = LastLayerSolver.Fista(s, labels, mask, start, lambda, tolerance, maxIterations: 3 * result.Iterations);
        Assert.True(result.Objective <= fista.Objective + 1e-12, $"OWL-QN {result.Objective} vs FISTA {fista.Objective}");
    }

    [Fact]
    public void OptimizeWritesTheSolutionIntoTheModel()
    {
        using var model = TestData.Model(2, prototypesPerClass: 2);
        var data = TestData.Images(12, 2, 16, seed: 3);
        var result = LastLayerOptimizer.Optimize(model, data, new LastLayerOptions { Lambda = 1e-3, Tolerance = 1e-6 });
        Assert.True(result.Converged);
        var (similarities, labels) = LastLayerOptimizer.SimilarityVectors(model, data, 5, null, default);
        using var mask = (1 - model.Network.PrototypeClassIdentity.t()).to(ScalarType.Float64);
        // Twelve random images are separable by the own-class weights alone, which L1 does not touch: the infimum is not
        // attained and the solver's weights grow (to ~1e5 for Newton) until the gradient is below tolerance. Stored in float32
        // they keep the objective, not a 1e-6 gradient, so the check is on the objective.
        using var stored = model.Network.LastLayer.weight!.detach().to(ScalarType.Float64);
        using var ce = torch.nn.functional.cross_entropy(similarities.matmul(stored.t()), labels);
        double storedObjective = ce.item<double>() + 1e-3 * (stored * mask).abs().sum().item<double>();
        Assert.True(Math.Abs(storedObjective - result.Objective) <= 1e-5 * Math.Max(1, result.Objective), $"stored {storedObjective} vs solved {result.Objective}");
        var adam = LastLayerOptimizer.Optimize(model, data, new LastLayerOptions { Method = LastLayerMethod.Adam, Lambda = 1e-3, Passes = 2, BatchSize = 4 });
        Assert.True(adam.Objective >= result.Objective - 1e-9, "Adam cannot beat the exact optimum");
        Assert.Equal(6, adam.Iterations);
        Assert.Equal("Newton", result.Method);
        Assert.Equal("Adam", adam.Method);
    }
}
