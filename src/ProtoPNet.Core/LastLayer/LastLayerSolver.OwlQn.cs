using ProtoPNet.Model;
using TorchSharp;
using ProtoPNet.Runtime;
using static TorchSharp.torch;

namespace ProtoPNet.LastLayer;

public static partial class LastLayerSolver
{
    /// <summary>Curvature pairs kept by <see cref="OwlQn"/>'s limited-memory Hessian.</summary>
    public const int OwlQnMemory = 12;

    /// <summary>
    /// Orthant-wise limited-memory quasi-Newton (OWL-QN; Andrew &amp; Gao 2007) for the same problem as <see cref="Newton"/>,
    /// for problems too large for its dense Hessian (K·m above <see cref="MaxNewtonVariables"/>; CUB: 400,000 weights).
    /// Memory is <see cref="OwlQnMemory"/> pairs of [K, m] tensors; an iteration costs two products S·Wᵀ and one Sᵀ·R.
    /// <para>Each iteration: the pseudo-gradient of F (the gradient of the mean CE plus λ·sign on nonzero wrong-class
    /// weights; at a zero weight the one-sided derivative that descends, or 0 when |g| ≤ λ), an L-BFGS direction from it
    /// with the initial scaling in the same diagonal metric FISTA uses (prototypes differ in scale by orders of magnitude),
    /// the direction cut to the orthant the pseudo-gradient descends in, and a backtracking line search whose points are
    /// projected onto that orthant (a weight that would cross zero stops at zero, which is how wrong-class weights become
    /// exactly 0). Stops on the same optimality measure as the other solvers (<see cref="Optimality"/>).</para>
    /// </summary>
    public static SolveResult OwlQn(Tensor similarities, Tensor labels, Tensor wrongClassMask, Tensor initial, double lambda,
        double tolerance = 1e-6, int maxIterations = 5000, Action<int, double, double>? progress = null, CancellationToken cancel = default)
    {
        using var noGrad = torch.no_grad();
        using var outer = NewDisposeScope();
        var problem = Float64Problem(similarities, labels, wrongClassMask, initial, lambda);
        var (s, mask, w) = (problem.S, problem.Mask, problem.W);
        var penalized = mask.to(ScalarType.Bool);
        // Initial inverse-Hessian scaling: the inverse of the diagonal metric d_j = ¼·mean_i s_ij² (see Fista).
        var inverseMetric = s.Square().mean([0]).Div(4).ClampMin(1e-12).view(1, -1).RDiv(1);
        var steps = new List<Tensor>();        // s_k = w_{k+1} − w_k
        var changes = new List<Tensor>();      // y_k = ∇f(w_{k+1}) − ∇f(w_k)
        var curvatures = new List<double>();   // y_kᵀ s_k

        var (value, gradient) = ValueAndGradient(s, labels, s.matmul(w.t()));
        double objective = value.item<double>() + lambda * Penalty(w, mask);
        double optimality = double.PositiveInfinity;
        int iteration = 0;
        bool converged = false;
        for (; ; iteration++)
        {
            cancel.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            optimality = (w - Prox(w - gradient, mask, lambda)).abs().max().item<double>();
            progress?.Invoke(iteration, objective, optimality);
            if (optimality <= tolerance) { converged = true; break; }
            if (iteration >= maxIterations) break;

            var pseudo = PseudoGradient(w, gradient, penalized, lambda);
            var direction = -TwoLoop(pseudo, steps, changes, curvatures, inverseMetric);
            // Keep only the components that descend along the pseudo-gradient; the others would leave the orthant.
            direction = torch.where((direction * pseudo).LessThan(0), direction, torch.zeros_like(direction));
            if (direction.abs().max().item<double>() == 0) direction = -pseudo * inverseMetric;   // memory gone stale: scaled steepest descent
            // The orthant of the step: the sign of w, or for a zero weight the sign it would move to.
            var orthant = torch.where(w.NotEqualTo(0), w.sign(), -pseudo.sign());
            double slope = (pseudo * direction).sum().item<double>();

            double step = 1;
            Tensor? next = null;
            Tensor? nextGradient = null;
            double nextObjective = double.NaN;
            for (int halving = 0; halving < 50; halving++, step /= 2)
            {
                var trial = w.Add(direction.Mul(step));
                // Wrong-class weights that would cross into the other orthant stop at zero; own-class weights move freely.
                trial = torch.where(penalized.logical_and((trial * orthant).LessOrEqual(0)), torch.zeros_like(trial), trial);
                var (trialValue, trialGradient) = ValueAndGradient(s, labels, s.matmul(trial.t()));
                double trialObjective = trialValue.item<double>() + lambda * Penalty(trial, mask);
                if (trialObjective <= objective + 1e-4 * (pseudo * (trial - w)).sum().item<double>())
                {
                    next = trial; nextGradient = trialGradient; nextObjective = trialObjective;
                    break;
                }
            }
            if (next is null || nextGradient is null || slope >= 0)
            {
                if (steps.Count == 0) break;       // not even a scaled steepest-descent step descends: as close as float64 sees
                foreach (var t in steps.Concat(changes)) t.Dispose();
                steps.Clear(); changes.Clear(); curvatures.Clear();
                continue;
            }
            var sk = next - w;
            var yk = nextGradient - gradient;
            double sy = (sk * yk).sum().item<double>();
            if (sy > 1e-16 * Math.Sqrt((sk * sk).sum().item<double>() * (yk * yk).sum().item<double>()))
            {
                steps.Add(sk.MoveToOuterDisposeScope()); changes.Add(yk.MoveToOuterDisposeScope()); curvatures.Add(sy);
                if (steps.Count > OwlQnMemory)
                {
                    steps[0].Dispose(); changes[0].Dispose();
                    steps.RemoveAt(0); changes.RemoveAt(0); curvatures.RemoveAt(0);
                }
            }
            w.copy_(next);
            gradient.copy_(nextGradient);
            objective = nextObjective;
        }
        var result = Result(problem, labels, w, lambda, optimality, iteration, converged, "OwlQn");
        foreach (var t in steps.Concat(changes)) t.Dispose();
        return result;
    }

    /// <summary>
    /// The minimum-norm subgradient of F at w: ∂f plus λ·sign(w) on nonzero wrong-class weights; at a zero wrong-class weight
    /// g + λ if that is negative, g − λ if that is positive, else 0 (no descent in either direction). Own-class weights: ∂f.
    /// </summary>
    private static Tensor PseudoGradient(Tensor w, Tensor g, Tensor penalized, double lambda)
    {
        var atZero = torch.where(g.Add(lambda).LessThan(0), g.Add(lambda), torch.where(g.Sub(lambda).GreaterThan(0), g.Sub(lambda), torch.zeros_like(g)));
        var off = torch.where(w.NotEqualTo(0), g.Add(w.sign().Mul(lambda)), atZero);
        return torch.where(penalized, off, g);
    }

    /// <summary>L-BFGS two-loop recursion: H·q for the inverse-Hessian approximation H of the stored pairs, H₀ = γ·D⁻¹.</summary>
    private static Tensor TwoLoop(Tensor q, List<Tensor> steps, List<Tensor> changes, List<double> curvatures, Tensor inverseMetric)
    {
        var r = q.clone();
        int count = steps.Count;
        var alpha = new double[count];
        for (int i = count - 1; i >= 0; i--)
        {
            alpha[i] = (steps[i] * r).sum().item<double>() / curvatures[i];
            r.sub_(changes[i].Mul(alpha[i]));
        }
        double gamma = 1;
        if (count > 0)
        {
            var y = changes[count - 1];
            gamma = curvatures[count - 1] / (y * y * inverseMetric).sum().item<double>();
        }
        r.mul_(inverseMetric.Mul(gamma));
        for (int i = 0; i < count; i++)
        {
            double beta = (changes[i] * r).sum().item<double>() / curvatures[i];
            r.AddInPlace(steps[i].Mul(alpha[i] - beta));
        }
        return r;
    }
}
