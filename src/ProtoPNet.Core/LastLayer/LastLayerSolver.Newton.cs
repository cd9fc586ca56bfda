using ProtoPNet.Model;
using TorchSharp;
using ProtoPNet.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ProtoPNet.LastLayer;

public static partial class LastLayerSolver
{
    /// <summary>Up to this many weights (K·m) every outer iteration forms the dense Hessian of all of them (4,096² doubles =
    /// 128 MB). Beyond it <see cref="Newton"/> works on a working set of at most <see cref="MaxWorkingSet"/> weights.</summary>
    public const int MaxNewtonVariables = 4096;

    /// <summary>Largest working set of <see cref="Newton"/> beyond <see cref="MaxNewtonVariables"/> weights: its Hessian is
    /// 6,144² doubles = 288 MB, formed in one GEMM of N·6,144² multiply-adds per outer iteration.</summary>
    public const int MaxWorkingSet = 6144;

    /// <summary>The first Levenberg–Marquardt damping of <see cref="Newton"/>, relative to the mean of the Hessian's diagonal.</summary>
    internal const double InitialDamping = 1e-3;

    /// <summary>The smallest damping: below it the damped model is Newton's own to rounding.</summary>
    internal const double MinimumDamping = 1e-10;

    /// <summary>The largest damping: there the step is a short scaled proximal-gradient step, which descends unless W is
    /// optimal; more damping would only shorten it.</summary>
    internal const double MaximumDamping = 1e6;

    /// <summary>
    /// Proximal Newton (Lee, Sun &amp; Saunders 2014; the scheme of newGLMNET): at each outer iteration the exact gradient of
    /// the mean CE, its Hessian H = (1/N) Σ_i (diag(p_i) − p_i p_iᵀ) ⊗ s_i s_iᵀ in the K·m weights, then the L1-regularized
    /// quadratic model min_d gᵀd + ½dᵀ(H + μ·mean(diag H)·I)d + λ‖(W + d)⊙mask‖₁ solved by coordinate descent alternated with
    /// exact linear solves on its sign pattern, then a backtracking (Armijo) line search on the true objective along d. Stops
    /// when <see cref="Optimality"/> ≤ <paramref name="tolerance"/>, checked with the exact gradient.
    /// <para>μ is a Levenberg–Marquardt damping (trust-region style), adapted by the ratio of the true objective's decrease to
    /// the decrease the damped model predicted: divided by 4 after a full step with a ratio above ¾, multiplied by 4 after a
    /// cut or failed step or a ratio below ¼, unchanged in between (and when both decreases are below rounding). Similarity
    /// columns of a pushed model are strongly correlated (measured: 25,646 pairs of 586 distinct columns above 0.99), so the
    /// undamped model has directions of almost no curvature: its minimizer lies far out where the true objective is no longer
    /// quadratic, and the inner solve crawls towards it. Damped, the model is well conditioned where it is trusted and the
    /// exact solve on its sign pattern is usable (docs/algorithm.md §6).</para>
    /// <para>Beyond <see cref="MaxNewtonVariables"/> weights (2,000 prototypes × 10 classes; CUB's 400,000) the model and its
    /// Hessian are restricted to a working set (<see cref="WorkingSet"/>): the own-class weights, the nonzero wrong-class
    /// weights and the zero ones whose gradient breaks the optimality condition |g| ≤ λ, the worst first, up to
    /// <see cref="MaxWorkingSet"/>. At the optimum nearly every wrong-class weight is zero and stays out of the set; the others
    /// keep their values for that iteration (block-coordinate proximal Newton, Tseng &amp; Yun 2009). The set is chosen
    /// afresh every iteration from the exact gradient, and the stopping test is over every weight.</para>
    /// </summary>
    /// <remarks>The Hessian is formed from every vector. One from a random subset misses some of the few images that a
    /// pushed prototype lights up most — its own source patch gives the largest similarity of all — and the solve then
    /// needs many times the iterations (measured: README, Figures).</remarks>
    public static SolveResult Newton(Tensor similarities, Tensor labels, Tensor wrongClassMask, Tensor initial, double lambda,
        double tolerance = 1e-6, int maxIterations = 200, Action<int, double, double>? progress = null, CancellationToken cancel = default) =>
        Newton(similarities, labels, wrongClassMask, initial, lambda, tolerance, maxIterations, progress, cancel, MaxNewtonVariables, MaxWorkingSet);

    /// <summary><see cref="Newton(Tensor, Tensor, Tensor, Tensor, double, double, int, Action{int, double, double}?, CancellationToken)"/>
    /// with its two size limits as parameters (tests drive the working set on problems small enough to check by hand).</summary>
    internal static SolveResult Newton(Tensor similarities, Tensor labels, Tensor wrongClassMask, Tensor initial, double lambda,
        double tolerance, int maxIterations, Action<int, double, double>? progress, CancellationToken cancel, int denseLimit, int workingSetLimit)
    {
        using var noGrad = torch.no_grad();
        using var outer = NewDisposeScope();
        var problem = Float64Problem(similarities, labels, wrongClassMask, initial, lambda);
        var (s, mask, w) = (problem.S, problem.Mask, problem.W);
        long classes = w.shape[0], prototypes = w.shape[1];   // of the merged problem: distinct prototypes
        int size = checked((int)(classes * prototypes));
        bool everyWeight = size <= denseLimit;
        var maskValues = mask.contiguous().data<double>().ToArray();
        double objective = double.NaN, optimality = double.PositiveInfinity;
        int iteration = 0;
        bool converged = false;
        double lastStep = 0;
        double damping = InitialDamping;
        var hessianType = ScalarType.Float32;   // float64 once a float32 Hessian no longer gives a usable step
        for (; ; iteration++)
        {
            cancel.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var logits = s.matmul(w.t());
            var (value, gradient) = ValueAndGradient(s, labels, logits);
            double penalty = Penalty(w, mask);
            objective = value.item<double>() + lambda * penalty;
            optimality = (w - Prox(w - gradient, mask, lambda)).abs().max().item<double>();
            progress?.Invoke(iteration, objective, optimality);
            if (optimality <= tolerance) { converged = true; break; }
            if (iteration >= maxIterations) break;

            var allGradient = gradient.contiguous().data<double>().ToArray();
            var allWeights = w.contiguous().data<double>().ToArray();
            var working = everyWeight ? null : WorkingSet(allWeights, allGradient, maskValues, lambda, workingSetLimit);
            var hessianTensor = working is null ? Hessian(s, w, hessianType) : Hessian(s, w, working, hessianType);
            hessianTensor.diagonal().AddInPlace(damping * hessianTensor.diagonal().mean().item<double>());
            var g = Restrict(allGradient, working);
            var current = Restrict(allWeights, working);
            var workingMask = Restrict(maskValues, working);
            // Alternate coordinate descent (finds the sign pattern) with exact solves on that pattern (fast along correlated
            // prototypes, where coordinate descent crawls) until coordinate descent no longer moves.
            var direction = new double[g.Length];
            double target = Math.Max(1e-3 * optimality, 1e-12);   // inexact far from the optimum, precise near it
            // Few rounds while the line search still cuts steps (the model is a poor guide there), many once full steps are
            // taken; and none more once a round gains under 1 % of what the rounds so far did (nearly separable vectors make
            // the model so flat that more rounds buy nothing).
            int maxRounds = lastStep == 1 ? 60 : 4;
            double start = Model(hessianTensor, g, current, workingMask, lambda, direction), previous = start;
            for (int round = 0; round < maxRounds; round++)
            {
                if (QuadraticModelMinimizer(hessianTensor, g, current, workingMask, lambda, direction, 20, target)) break;
                direction = RefineOnSupport(hessianTensor, g, current, workingMask, lambda, direction);
                double reached = Model(hessianTensor, g, current, workingMask, lambda, direction);
                if (previous - reached <= 0.01 * (start - reached)) break;
                previous = reached;
            }
            double predicted = Model(hessianTensor, g, current, workingMask, lambda, direction) - start;   // of the damped model
            hessianTensor.Dispose();   // up to 288 MB: not kept through the line search

            // Armijo along d with the L1 term (Tseng & Yun): F(W + t·d) ≤ F(W) + σ·t·Δ, Δ = gᵀd + λ(‖(W+d)⊙mask‖₁ − ‖W⊙mask‖₁) < 0.
            var d = torch.tensor(Expand(direction, working, size), [classes, prototypes], ScalarType.Float64);
            double decrease = (gradient * d).sum().item<double>() + lambda * (Penalty(w.Add(d), mask) - penalty);
            var logitsStep = s.matmul(d.t());
            double step = 1, reachedObjective = objective;
            bool accepted = false;
            for (int halving = 0; decrease < 0 && halving < 40; halving++, step /= 2)
            {
                var trial = w.Add(d.Mul(step));
                reachedObjective = cross_entropy(logits.Add(logitsStep.Mul(step)), labels).item<double>() + lambda * Penalty(trial, mask);
                if (reachedObjective <= objective + 1e-4 * step * decrease) { accepted = true; break; }
            }
            // Trust the model further when it predicted a full step well, less when it did not. A decrease below the objective's
            // rounding says nothing either way.
            double agreement = (reachedObjective - objective) / predicted;
            bool measurable = -predicted > 1e-12 * Math.Abs(objective);
            if (!accepted || step < 1 || (measurable && agreement < 0.25)) damping = Math.Min(damping * 4, MaximumDamping);
            else if (measurable && agreement > 0.75) damping = Math.Max(damping / 4, MinimumDamping);
            if (!accepted)
            {
                // Near a tight tolerance a float32 Hessian's rounding can spoil the step: redo the iteration with a float64 one,
                // then with much more damping (a shorter, more gradient-like step: at most 6 retries to the largest damping).
                if (hessianType == ScalarType.Float32) { hessianType = ScalarType.Float64; continue; }
                if (damping < MaximumDamping) { damping = Math.Min(damping * 1e3, MaximumDamping); continue; }
                break;   // no descent left that float64 can see: this is as close as it gets
            }
            w.AddInPlace(d.Mul(step));
            lastStep = step;
            Recenter(w, mask);
        }
        return Result(problem, labels, w, lambda, optimality, iteration, converged, "Newton");
    }

    /// <summary>
    /// H = (1/n) Σ_i (diag(p_i) − p_i p_iᵀ) ⊗ s_i s_iᵀ, row-major in W's flattening (index a·m + j), as one dense float64
    /// matrix. Block (a, b) is Sᵀ·diag(p_a(δ_ab − p_b))·S; only the K(K+1)/2 blocks on and above the diagonal are computed
    /// (H is symmetric), over row chunks, in <paramref name="precision"/>: float32 first — the Hessian only shapes the
    /// Newton direction, while the gradient, objective and stopping test stay float64 — and float64 once that fails.
    /// </summary>
    internal static Tensor Hessian(Tensor s, Tensor w, ScalarType precision)
    {
        long n = s.shape[0], classes = w.shape[0], m = w.shape[1], size = classes * m;
        var hessian = torch.zeros(size, size, dtype: precision);
        const long chunk = 65536;
        for (long start = 0; start < n; start += chunk)
        {
            using var chunkScope = NewDisposeScope();
            var rows = s.narrow(0, start, Math.Min(chunk, n - start));
            var p = softmax(rows.matmul(w.t()), 1);
            var rowsP = rows.to(precision);
            for (long a = 0; a < classes; a++)
            {
                var pa = p.select(1, a);
                for (long b = a; b < classes; b++)
                {
                    var weight = a == b ? pa - pa * pa : -(pa * p.select(1, b));
                    var block = (rowsP * weight.to(precision).unsqueeze(1)).t().matmul(rowsP);
                    hessian.narrow(0, a * m, m).narrow(1, b * m, m).AddInPlace(block);
                }
            }
        }
        for (long a = 0; a < classes; a++)
            for (long b = a + 1; b < classes; b++)
                hessian.narrow(0, b * m, m).narrow(1, a * m, m).copy_(hessian.narrow(0, a * m, m).narrow(1, b * m, m).t());
        return hessian.to(ScalarType.Float64).DivInPlace(n);
    }

    /// <summary>
    /// The weights the next Newton step moves, as ascending indices into W's row-major flattening (so each class's weights
    /// are one contiguous run): own-class weights and nonzero wrong-class weights (the current model), then the zero
    /// wrong-class weights that break the optimality condition |g| ≤ λ, worst first, at most as many as the model has and
    /// no more than <paramref name="limit"/> in all. When the model alone is over <paramref name="limit"/>: the
    /// <paramref name="limit"/> weights whose proximal-gradient mapping (their share of <see cref="Optimality"/>) is largest.
    /// </summary>
    internal static int[] WorkingSet(double[] w, double[] g, double[] mask, double lambda, int limit)
    {
        var model = new List<int>();
        var violators = new List<int>();
        for (int c = 0; c < w.Length; c++)
        {
            if (mask[c] == 0 || w[c] != 0) model.Add(c);
            else if (Math.Abs(g[c]) > lambda) violators.Add(c);
        }
        List<int> chosen;
        // At most as many violators as the model has weights: the set at most doubles per iteration, so the first iterations
        // (every zero weight violates at the start) do not pay for the largest Hessian.
        int room = Math.Min(limit - model.Count, model.Count);
        if (violators.Count <= room) chosen = [.. model, .. violators];
        else if (model.Count <= limit)
            chosen = [.. model, .. violators.OrderByDescending(c => Math.Abs(g[c]) - lambda).Take(room)];
        else
            chosen = [.. model.Concat(violators).OrderByDescending(c => Violation(w[c], g[c], mask[c], lambda)).Take(limit)];
        chosen.Sort();
        return [.. chosen];
    }

    /// <summary>|w − prox(w − g)| of one weight: the soft-threshold only on wrong-class weights.</summary>
    private static double Violation(double w, double g, double mask, double lambda)
    {
        double v = w - g;
        double prox = mask > 0 ? Math.Sign(v) * Math.Max(0, Math.Abs(v) - lambda) : v;
        return Math.Abs(w - prox);
    }

    /// <summary>
    /// The Hessian of <see cref="Hessian(Tensor, Tensor, ScalarType)"/> restricted to the weights in
    /// <paramref name="working"/> (ascending flat indices a·m + j). With X the similarities of the working weights' prototypes
    /// and P the probabilities of their classes, column for column: −(P⊙X)ᵀ(P⊙X) holds every block's −Σ p_a p_b s sᵀ in one
    /// GEMM; the diagonal blocks are then overwritten by Σ p_a(1 − p_a) s sᵀ computed apart, because forming p_a − p_a² as a
    /// difference of two float32 sums would cancel away (p_a ≈ 1 on nearly separable vectors).
    /// </summary>
    internal static Tensor Hessian(Tensor s, Tensor w, int[] working, ScalarType precision)
    {
        long n = s.shape[0], m = w.shape[1];
        int size = working.Length;
        var classOf = torch.tensor(working.Select(c => c / m).ToArray());
        var prototypeOf = torch.tensor(working.Select(c => c % m).ToArray());
        // Each class's run [first, first + count) in the working set.
        var runs = new List<(long Class, long First, long Count)>();
        for (int f = 0; f < size; f++)
        {
            long a = working[f] / m;
            if (runs.Count > 0 && runs[^1].Class == a) runs[^1] = (a, runs[^1].First, runs[^1].Count + 1);
            else runs.Add((a, f, 1));
        }
        var hessian = torch.zeros(size, size, dtype: precision);
        var diagonal = runs.Select(r => torch.zeros(r.Count, r.Count, dtype: precision)).ToArray();
        long chunk = Math.Max(256, (1L << 23) / size);   // rows per GEMM: about 8 M elements of X at a time
        for (long start = 0; start < n; start += chunk)
        {
            using var chunkScope = NewDisposeScope();
            var rows = s.narrow(0, start, Math.Min(chunk, n - start));
            var p = softmax(rows.matmul(w.t()), 1);
            var x = rows.index_select(1, prototypeOf);                                  // [rows, size]
            var v = (x * p.index_select(1, classOf)).to(precision);
            hessian.sub_(v.t().matmul(v));
            for (int r = 0; r < runs.Count; r++)
            {
                var pa = p.select(1, runs[r].Class);
                var xa = x.narrow(1, runs[r].First, runs[r].Count).to(precision);
                diagonal[r].AddInPlace((xa * (pa - pa * pa).to(precision).unsqueeze(1)).t().matmul(xa));
            }
        }
        for (int r = 0; r < runs.Count; r++)
            hessian.narrow(0, runs[r].First, runs[r].Count).narrow(1, runs[r].First, runs[r].Count).copy_(diagonal[r]);
        return hessian.to(ScalarType.Float64).DivInPlace(n);
    }

    /// <summary>The entries of <paramref name="all"/> at <paramref name="working"/>; all of them when it is null.</summary>
    private static double[] Restrict(double[] all, int[]? working) =>
        working is null ? all : [.. working.Select(c => all[c])];

    /// <summary>A step on the working set as a step on every weight (zero outside the set).</summary>
    private static double[] Expand(double[] step, int[]? working, int size)
    {
        if (working is null) return step;
        var all = new double[size];
        for (int f = 0; f < working.Length; f++) all[working[f]] = step[f];
        return all;
    }

    /// <summary>
    /// Coordinate descent finds the sign pattern of the model's minimizer quickly but converges slowly along correlated
    /// prototypes. With that pattern fixed, the model is a smooth quadratic on the free weights (own-class ones and the
    /// nonzero wrong-class ones; the zero ones stay at 0): one linear solve (H_FF + εI)·d_F = −(g_F + λ·sign_F + H_FZ·d_Z)
    /// gives its exact minimizer. The step goes from d towards it and is projected onto the pattern's orthant (weights that
    /// would cross zero stop at zero), halving its length (at most 20 times) until the model is no higher: where the pattern
    /// is not yet right the full solve overshoots (measured on an undamped model in the tail of a real 2,000-prototype
    /// problem: only 1/256–1/8192 of its length lowered the model, and the full step never did), and a part of it still
    /// gains more than another round of coordinate descent. Else the coordinate-descent step stands.
    /// </summary>
    private static double[] RefineOnSupport(Tensor hessian, double[] g, double[] w, double[] mask, double lambda, double[] direction)
    {
        using var scope = NewDisposeScope();
        int size = g.Length;
        var free = new List<long>();
        var sign = new double[size];
        var fixedStep = new double[size];
        for (int c = 0; c < size; c++)
        {
            double target = w[c] + direction[c];
            if (mask[c] > 0 && target == 0) { fixedStep[c] = -w[c]; continue; }
            free.Add(c);
            sign[c] = mask[c] > 0 ? Math.Sign(target) : 0;
        }
        if (free.Count == 0) return direction;
        var index = torch.tensor(free.ToArray());
        var h = hessian;
        var gT = torch.tensor(g);
        var signT = torch.tensor(sign);
        var fixedT = torch.tensor(fixedStep);
        var hFree = h.index_select(0, index);                                         // [F, size]
        var rhs = -(gT.index_select(0, index).Add(signT.index_select(0, index).Mul(lambda)).Add(hFree.matmul(fixedT)));
        var hFF = hFree.index_select(1, index);
        double damping = 1e-9 * hFF.diagonal().mean().item<double>() + 1e-300;
        hFF.diagonal().AddInPlace(damping);
        var solved = torch.linalg.solve(hFF, rhs);
        var solvedValues = solved.data<double>().ToArray();
        double current = Model(h, g, w, mask, lambda, direction);
        double length = 1;
        for (int halving = 0; halving < 20; halving++, length /= 2)
        {
            var candidate = (double[])fixedStep.Clone();
            for (int f = 0; f < free.Count; f++)
            {
                int c = (int)free[f];
                candidate[c] = direction[c] + length * (solvedValues[f] - direction[c]);
                if (sign[c] != 0 && Math.Sign(w[c] + candidate[c]) != sign[c]) candidate[c] = -w[c];   // left its orthant: stop at 0
            }
            if (Model(h, g, w, mask, lambda, candidate) <= current) return candidate;
        }
        return direction;
    }

    /// <summary>gᵀd + ½dᵀHd + λ‖(w + d)⊙mask‖₁.</summary>
    private static double Model(Tensor hessian, double[] g, double[] w, double[] mask, double lambda, double[] d)
    {
        using var scope = NewDisposeScope();
        var dT = torch.tensor(d);
        double value = (torch.tensor(g) * dT).sum().item<double>() + 0.5 * dT.dot(hessian.matmul(dT)).item<double>();
        for (int c = 0; c < d.Length; c++) value += lambda * mask[c] * Math.Abs(w[c] + d[c]);
        return value;
    }

    /// <summary>y += a·x, in SIMD vectors: coordinate descent spends its time here (one Hessian row per coordinate update).</summary>
    private static void Axpy(double a, ReadOnlySpan<double> x, Span<double> y)
    {
        int i = 0;
        if (System.Numerics.Vector.IsHardwareAccelerated)
        {
            int width = System.Numerics.Vector<double>.Count;
            var scale = new System.Numerics.Vector<double>(a);
            for (; i + width <= x.Length; i += width)
                (new System.Numerics.Vector<double>(y.Slice(i)) + scale * new System.Numerics.Vector<double>(x.Slice(i))).CopyTo(y.Slice(i));
        }
        for (; i < x.Length; i++) y[i] += a * x[i];
    }

    /// <summary>
    /// Coordinate descent on q(d) = gᵀd + ½dᵀ(H + εI)d + λ‖(w + d)⊙mask‖₁, keeping H·d up to date (one row of H per update).
    /// H arrives damped (<see cref="Newton"/>'s μ); ε = 1e-10·trace/size only regularizes the flat directions of softmax (a
    /// shift of every row of W); the outer <see cref="Recenter"/> handles those exactly. Updates d in place from its current value; true when
    /// a sweep moved no coordinate by more than <paramref name="target"/>.
    /// </summary>
    private static bool QuadraticModelMinimizer(Tensor hessianTensor, double[] g, double[] w, double[] mask, double lambda, double[] d,
        int sweeps, double target)
    {
        int size = g.Length;
        // The Hessian's own memory (contiguous float64 on the CPU): no managed copy of up to 288 MB.
        ReadOnlySpan<double> hessian = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(hessianTensor.bytes);
        double trace = 0;
        for (int c = 0; c < size; c++) trace += hessian[c * size + c];
        double damping = 1e-10 * trace / size + 1e-300;
        var hd = new double[size];
        for (int c = 0; c < size; c++)
        {
            if (d[c] == 0) continue;
            var row = hessian.Slice(c * size, size);
            Axpy(d[c], row, hd);
            hd[c] += damping * d[c];
        }
        for (int sweep = 0; sweep < sweeps; sweep++)
        {
            double largest = 0;
            for (int c = 0; c < size; c++)
            {
                double curvature = hessian[c * size + c] + damping;
                double slope = g[c] + hd[c];
                double before = w[c] + d[c];
                double after = before - slope / curvature;
                if (mask[c] > 0) after = Math.Sign(after) * Math.Max(0, Math.Abs(after) - lambda / curvature);
                double change = after - before;
                if (change == 0) continue;
                d[c] += change;
                var row = hessian.Slice(c * size, size);
                Axpy(change, row, hd);
                hd[c] += damping * change;
                largest = Math.Max(largest, Math.Abs(change));
            }
            if (largest <= target) return true;
        }
        return false;
    }
}
