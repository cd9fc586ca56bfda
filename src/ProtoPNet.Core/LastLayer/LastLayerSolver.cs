using ProtoPNet.Model;
using TorchSharp;
using ProtoPNet.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ProtoPNet.LastLayer;

/// <summary>The state of a last-layer solve: weights and how close they are to the optimum.</summary>
/// <param name="Method">The algorithm that produced it: "Newton", "OwlQn", "Fista" or "Adam".</param>
/// <param name="DistinctPrototypes">How many prototypes have distinct similarity columns (the exact solvers solve identical
/// ones as one, see <see cref="DuplicatePrototypes"/>); 0 when not counted (Adam).</param>
public sealed record SolveResult(Tensor Weight, double Objective, double CrossEntropy, double Penalty, double Optimality, int Iterations, bool Converged,
    string Method = "Fista", int DistinctPrototypes = 0);

/// <summary>
/// min over W [K, m] of F(W) = mean_i CE(W·s_i, y_i) + λ·Σ_{k, j ∉ P_k} |w_kj| — convex: a smooth loss plus an L1 term on the
/// wrong-class connections only. Solved by FISTA (accelerated proximal gradient) in a diagonal metric, with backtracking on the step and
/// adaptive restart, in float64. Optimality is the size of the proximal-gradient mapping (see <see cref="Optimality"/>).
/// </summary>
public static partial class LastLayerSolver
{
    /// <param name="similarities">[N, m] similarity vectors.</param>
    /// <param name="labels">[N] int64.</param>
    /// <param name="wrongClassMask">[K, m], 1 where prototype j does not belong to class k.</param>
    /// <param name="initial">[K, m] starting weights.</param>
    public static SolveResult Fista(Tensor similarities, Tensor labels, Tensor wrongClassMask, Tensor initial, double lambda,
        double tolerance = 1e-6, int maxIterations = 10000, Action<int, double, double>? progress = null, CancellationToken cancel = default)
    {
        using var noGrad = torch.no_grad();
        using var outer = NewDisposeScope();
        var problem = Float64Problem(similarities, labels, wrongClassMask, initial, lambda);
        var (s, mask, w) = (problem.S, problem.Mask, problem.W);
        var y = w.clone();
        double t = 1;
        // Diagonal metric: prototypes' similarities differ in scale by orders of magnitude (a pushed prototype scores ~9
        // on its source image, ~0.1 elsewhere), which plain FISTA pays for in iterations. Column j is scaled by
        // d_j = ¼·mean_i s_ij² (the curvature bound of softmax CE along w_kj); the prox stays a soft-threshold, at λ/(L·d_j).
        var metric = s.Square().mean([0]).Div(4).ClampMin(1e-12).view(1, -1);
        double lipschitz = 1;
        // Logits are linear in W, so those of the extrapolated point follow from the others without a matrix product.
        var logitsW = s.matmul(w.t());
        var logitsY = logitsW.clone();
        double objectiveW = double.NaN;
        double optimality = double.PositiveInfinity;
        int iteration = 0;
        bool converged = false;
        for (; iteration < maxIterations; iteration++)
        {
            cancel.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var (fy, gy) = ValueAndGradient(s, labels, logitsY);
            double fyValue = fy.item<double>();
            Tensor next, logitsNext;
            // Backtracking: accept the step 1/L once the quadratic model at y bounds f at the prox point.
            while (true)
            {
                var step = metric.Mul(lipschitz);
                next = Prox(y - gy / step, mask, step.RDiv(lambda));
                logitsNext = s.matmul(next.t());
                var diff = next - y;
                var excess = cross_entropy(logitsNext, labels) - fy - (gy * diff).sum() - (step * diff.Square()).sum().Div(2);
                if (excess.item<double>() <= 1e-12 * Math.Max(1, Math.Abs(fyValue))) break;
                lipschitz *= 2;
            }
            // Gradient-based adaptive restart (O'Donoghue & Candès): drop the momentum when it points uphill.
            bool restart = ((y - next) * (next - w)).sum().item<double>() > 0;
            double tNext = restart ? 1 : (1 + Math.Sqrt(1 + 4 * t * t)) / 2;
            double beta = restart ? 0 : (t - 1) / tNext;
            y.copy_(next.Add((next - w).Mul(beta)));
            logitsY.copy_(logitsNext.Add((logitsNext - logitsW).Mul(beta)));
            w.copy_(next);
            logitsW.copy_(logitsNext);
            t = tNext;
            lipschitz *= 0.95; // let the step grow back when the curvature allows it
            if (iteration % 10 == 9 || iteration == maxIterations - 1)
            {
                if (Recenter(w, mask) > 1e-12)
                {
                    // The shift left the loss unchanged and lowered the penalty; continue from there without momentum.
                    y.copy_(w);
                    logitsW.copy_(s.matmul(w.t()));
                    logitsY.copy_(logitsW);
                    t = 1;
                }
                optimality = Optimality(s, labels, w, mask, lambda);
                objectiveW = cross_entropy(logitsW, labels).item<double>() + lambda * Penalty(w, mask);
                progress?.Invoke(iteration + 1, objectiveW, optimality);
                if (optimality <= tolerance)
                {
                    converged = true;
                    iteration++;
                    break;
                }
            }
        }
        optimality = Optimality(s, labels, w, mask, lambda);
        converged |= optimality <= tolerance;
        return Result(problem, labels, w, lambda, optimality, iteration, converged, "Fista");
    }

    /// <summary>What every solver works on: S and the mask in float64 with identical prototype columns merged
    /// (<see cref="DuplicatePrototypes"/>), and a float64 copy of the initial W, merged, recentred and scaled down by
    /// <see cref="StartScale"/>. <see cref="Result"/> turns the solver's weights back into the full problem's.</summary>
    private sealed record Problem(Tensor S, Tensor Mask, Tensor W, DuplicatePrototypes? Duplicates, Tensor FullMask);

    private static Problem Float64Problem(Tensor similarities, Tensor labels, Tensor wrongClassMask, Tensor initial, double lambda)
    {
        var fullMask = wrongClassMask.to(ScalarType.Float64);
        var s = similarities.to(ScalarType.Float64);
        var w = initial.to(ScalarType.Float64).clone();
        var mask = fullMask;
        var duplicates = DuplicatePrototypes.Find(s);
        if (duplicates is not null) (s, mask, w) = duplicates.Merge(s, fullMask, w);
        Recenter(w, mask);
        w.MulInPlace(StartScale(s, labels, mask, w, lambda));
        return new Problem(s, mask, w, duplicates, fullMask);
    }

    /// <summary>The result of a solve that ended at <paramref name="w"/> (merged problem), with every prototype's weight.</summary>
    private static SolveResult Result(Problem problem, Tensor labels, Tensor w, double lambda, double optimality, int iterations,
        bool converged, string method)
    {
        double ce = SmoothValue(problem.S, labels, w).item<double>();
        double penalty = Penalty(w, problem.Mask);
        var weight = problem.Duplicates is null ? w : problem.Duplicates.Spread(w, problem.FullMask);
        return new SolveResult(weight.MoveToOuterDisposeScope(), ce + lambda * penalty, ce, penalty, optimality, iterations, converged, method,
            (int)problem.S.shape[1]);
    }

    /// <summary>
    /// The c in [10⁻⁴, 1] that minimizes F(c·W), by golden-section search on log c (F(c·W) is convex in c). The authors'
    /// starting weights (1 own class, −0.5 elsewhere) suit a few prototypes per class; a logit sums one term per prototype,
    /// so with 200 per class they start 100 times too large (measured: mean CE 50 at c = 1, 1.26 at c = 0.01), deep in
    /// softmax's flat tails where every second-order method crawls. The optimum does not depend on the start.
    /// </summary>
    internal static double StartScale(Tensor s, Tensor labels, Tensor mask, Tensor w, double lambda)
    {
        using var scope = NewDisposeScope();
        var logits = s.matmul(w.t());
        double penalty = Penalty(w, mask);
        double F(double logC) => cross_entropy(logits.Mul(Math.Exp(logC)), labels).item<double>() + lambda * Math.Exp(logC) * penalty;
        double low = Math.Log(1e-4), high = 0, ratio = (Math.Sqrt(5) - 1) / 2;
        double a = high - ratio * (high - low), b = low + ratio * (high - low), fa = F(a), fb = F(b);
        for (int i = 0; i < 40; i++)
        {
            if (fa <= fb) { high = b; b = a; fb = fa; a = high - ratio * (high - low); fa = F(a); }
            else { low = a; a = b; fa = fb; b = low + ratio * (high - low); fb = F(b); }
        }
        double best = (low + high) / 2;
        // The given weights stand unless scaling them lowers the objective.
        return F(best) < F(0) ? Math.Exp(best) : 1;
    }

    /// <summary>mean CE and its gradient with respect to W, from the logits S·Wᵀ: (softmax − onehot)ᵀ·S / N.</summary>
    private static (Tensor Value, Tensor Gradient) ValueAndGradient(Tensor s, Tensor labels, Tensor logits)
    {
        var logProbabilities = log_softmax(logits, 1);
        var value = -logProbabilities.gather(1, labels.view(-1, 1)).mean();
        var residual = logProbabilities.exp();
        residual.scatter_add_(1, labels.view(-1, 1), ScalarMath.Full([labels.shape[0], 1], -1.0, residual.dtype, residual.device));
        return (value, residual.t().matmul(s).Div(s.shape[0]));
    }

    /// <summary>
    /// Softmax cross-entropy does not change when the same vector is added to every row of W (all logits shift alike), but the
    /// penalty does: per column it is smallest when the wrong-class entries have median 0. Gradient steps crawl along this flat
    /// direction at λ/L per iteration; this exact step takes it at once. Returns how much the penalty fell (before λ).
    /// </summary>
    public static double Recenter(Tensor w, Tensor mask)
    {
        long k = w.shape[0], m = w.shape[1];
        if (k < 2) return 0;
        using var scope = NewDisposeScope();
        var wrong = mask.t().to(ScalarType.Bool);                                       // [m, K]
        var counts = wrong.sum(1);
        if (!counts.EqualTo(k - 1).all().item<bool>()) return 0;                        // every prototype has exactly one class
        var values = w.t().masked_select(wrong).view(m, k - 1);
        var median = values.sort(1).Values.select(1, (k - 2) / 2);                       // [m], the lower median
        double before = Penalty(w, mask);
        w.sub_(median.view(1, m));
        return before - Penalty(w, mask);
    }

    /// <summary>mean CE of logits S·Wᵀ, as a scalar tensor.</summary>
    internal static Tensor SmoothValue(Tensor s, Tensor labels, Tensor w) =>
        cross_entropy(s.matmul(w.t()), labels);

    /// <summary>mean CE and its gradient with respect to W: (softmax(S·Wᵀ) − onehot)ᵀ·S / N.</summary>
    internal static (Tensor Value, Tensor Gradient) SmoothAndGradient(Tensor s, Tensor labels, Tensor w)
    {
        var logProbabilities = log_softmax(s.matmul(w.t()), 1);
        var value = -logProbabilities.gather(1, labels.view(-1, 1)).mean();
        var residual = logProbabilities.exp();
        residual.scatter_add_(1, labels.view(-1, 1), ScalarMath.Full([labels.shape[0], 1], -1.0, residual.dtype, residual.device));
        var gradient = residual.t().matmul(s).Div(s.shape[0]);
        return (value, gradient);
    }

    internal static double Penalty(Tensor w, Tensor mask) => (w * mask).abs().sum().item<double>();

    /// <summary>Soft-thresholds only the wrong-class entries.</summary>
    internal static Tensor Prox(Tensor v, Tensor mask, double threshold) => Prox(v, mask, torch.tensor(threshold, dtype: v.dtype));

    /// <summary>Soft-thresholds only the wrong-class entries, each at its own threshold (broadcast).</summary>
    internal static Tensor Prox(Tensor v, Tensor mask, Tensor threshold)
    {
        var shrunk = v.sign() * (v.abs() - threshold).ClampMin(0);
        return torch.where(mask.to(ScalarType.Bool), shrunk, v);
    }

    /// <summary>
    /// ‖W − prox(W − ∇f(W))‖∞, the proximal-gradient mapping with unit step: 0 exactly at the optimum, the gradient
    /// itself on own-class entries, and continuous (tiny wrong-class weights give tiny values).
    /// </summary>
    public static double Optimality(Tensor s, Tensor labels, Tensor w, Tensor mask, double lambda)
    {
        using var scope = NewDisposeScope();
        var (_, g) = SmoothAndGradient(s, labels, w);
        return (w - Prox(w - g, mask, lambda)).abs().max().item<double>();
    }

}
