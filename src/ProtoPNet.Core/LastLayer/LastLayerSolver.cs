using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ProtoPNet.LastLayer;

/// <summary>The state of a last-layer solve: weights and how close they are to the optimum.</summary>
public sealed record SolveResult(Tensor Weight, double Objective, double CrossEntropy, double Penalty, double Optimality, int Iterations, bool Converged);

/// <summary>
/// min over W [K, m] of F(W) = mean_i CE(W·s_i, y_i) + λ·Σ_{k, j ∉ P_k} |w_kj| — convex: a smooth loss plus an L1 term on the
/// wrong-class connections only. Solved by FISTA (accelerated proximal gradient) with backtracking on the step and
/// adaptive restart, in float64. Optimality is the largest violation of the optimality conditions,
/// max over entries of the distance from 0 to the subdifferential of F (0 exactly at the optimum):
/// |∂f/∂w| on own-class entries; |∂f/∂w + λ·sign(w)| on nonzero wrong-class entries; max(0, |∂f/∂w| − λ) on zero ones.
/// </summary>
public static class LastLayerSolver
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
        var s = similarities.to(ScalarType.Float64);
        var mask = wrongClassMask.to(ScalarType.Float64);
        var w = initial.to(ScalarType.Float64).clone();
        var y = w.clone();
        double t = 1;
        double lipschitz = InitialLipschitz(s);
        double objectiveW = double.NaN;
        double optimality = double.PositiveInfinity;
        int iteration = 0;
        bool converged = false;
        for (; iteration < maxIterations; iteration++)
        {
            cancel.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var (fy, gy) = SmoothAndGradient(s, labels, y);
            Tensor next;
            // Backtracking: accept the step 1/L once the quadratic model at y bounds f at the prox point
            // (one host synchronization per trial: the comparison is done on the tensors).
            while (true)
            {
                next = Prox(y - gy / lipschitz, mask, lambda / lipschitz);
                var diff = next - y;
                var fNext = SmoothValue(s, labels, next);
                var excess = fNext - fy - (gy * diff).sum() - lipschitz / 2 * diff.square().sum();
                if (excess.item<double>() <= 1e-12 * Math.Max(1, Math.Abs(fy.item<double>()))) break;
                lipschitz *= 2;
            }
            // Gradient-based adaptive restart (O'Donoghue & Candès): drop the momentum when it points uphill.
            bool restart = ((y - next) * (next - w)).sum().item<double>() > 0;
            double tNext = restart ? 1 : (1 + Math.Sqrt(1 + 4 * t * t)) / 2;
            var momentum = restart ? next : next + (t - 1) / tNext * (next - w);
            w.copy_(next);
            y.copy_(momentum);
            t = tNext;
            lipschitz *= 0.95; // let the step grow back when the curvature allows it
            if (iteration % 10 == 9 || iteration == maxIterations - 1)
            {
                optimality = Optimality(s, labels, w, mask, lambda);
                objectiveW = SmoothValue(s, labels, w).item<double>() + lambda * Penalty(w, mask);
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
        double ce = SmoothValue(s, labels, w).item<double>();
        double penalty = Penalty(w, mask);
        return new SolveResult(w.MoveToOuterDisposeScope(), ce + lambda * penalty, ce, penalty, optimality, iteration, converged);
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
        residual.scatter_add_(1, labels.view(-1, 1), torch.full([labels.shape[0], 1], -1.0, dtype: residual.dtype, device: residual.device));
        var gradient = residual.t().matmul(s) / s.shape[0];
        return (value, gradient);
    }

    internal static double Penalty(Tensor w, Tensor mask) => (w * mask).abs().sum().item<double>();

    /// <summary>Soft-thresholds only the wrong-class entries.</summary>
    internal static Tensor Prox(Tensor v, Tensor mask, double threshold)
    {
        var shrunk = v.sign() * (v.abs() - threshold).clamp_min(0);
        return torch.where(mask.to(ScalarType.Bool), shrunk, v);
    }

    public static double Optimality(Tensor s, Tensor labels, Tensor w, Tensor mask, double lambda)
    {
        using var scope = NewDisposeScope();
        var (_, g) = SmoothAndGradient(s, labels, w);
        var wrong = mask.to(ScalarType.Bool);
        var atZero = w.eq(0);
        var violationWrong = torch.where(atZero, (g.abs() - lambda).clamp_min(0), (g + lambda * w.sign()).abs());
        var violation = torch.where(wrong, violationWrong, g.abs());
        return violation.max().item<double>();
    }

    /// <summary>A first guess of the gradient's Lipschitz constant: ‖S‖²_F / (2N) bounds it; start an order below and let backtracking raise it.</summary>
    private static double InitialLipschitz(Tensor s) => Math.Max(1e-6, s.square().sum().item<double>() / (2.0 * s.shape[0]) / 10);
}
