using System.Diagnostics;
using ProtoPNet.Data;
using ProtoPNet.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using ProtoPNet.Optimization;
using ProtoPNet.Runtime;

namespace ProtoPNet.LastLayer;

/// <summary>Newton: proximal Newton, the exact solve (default; beyond its dense-Hessian limit on a working set). Fista: accelerated
/// proximal gradient, also exact but slow on ill-conditioned similarity vectors. Adam: the authors' passes, for comparison (no
/// optimality guarantee). OwlQn: orthant-wise limited-memory quasi-Newton, exact, for any size.</summary>
public enum LastLayerMethod { Newton, Fista, Adam, OwlQn }

public sealed record LastLayerOptions
{
    public LastLayerMethod Method { get; init; } = LastLayerMethod.Newton;
    /// <summary>λ of the L1 term on wrong-class connections (the authors' coefficient).</summary>
    public double Lambda { get; init; } = 1e-4;
    /// <summary>Newton and FISTA stop when the optimality measure (max-norm of the proximal-gradient mapping) is at most this.</summary>
    public double Tolerance { get; init; } = 1e-4;
    /// <summary>Outer iterations of Newton or FISTA (Newton needs tens; FISTA thousands).</summary>
    public int MaxIterations { get; init; } = 5000;
    /// <summary>Adam variant: passes over the similarity vectors, learning rate and minibatch size (the authors': 20, 1e-4, 80).</summary>
    public int Passes { get; init; } = 20;
    public double LearningRate { get; init; } = 1e-4;
    public int BatchSize { get; init; } = 80;
    public int? Seed { get; init; }
    /// <summary>Batch size of the one pass that computes the similarity vectors.</summary>
    public int FeatureBatchSize { get; init; } = 100;
}

/// <summary>The outcome of stage 3.</summary>
public sealed class LastLayerResult
{
    public string Model { get; init; } = "";
    public string Method { get; init; } = "";
    public double Lambda { get; init; }
    /// <summary>mean CE + λ·Σ|w| over wrong-class connections, at the returned weights.</summary>
    public double Objective { get; init; }
    public double CrossEntropy { get; init; }
    public double Penalty { get; init; }
    /// <summary>‖W − prox(W − ∇f(W))‖∞: 0 exactly at the optimum; see <see cref="LastLayerSolver.Optimality"/>.</summary>
    public double Optimality { get; init; }
    public double Tolerance { get; init; }
    public bool Converged { get; init; }
    public int Iterations { get; init; }
    /// <summary>Fraction of wrong-class connections that are exactly zero.</summary>
    public double WrongClassSparsity { get; init; }
    public int Prototypes { get; init; }
    /// <summary>Prototypes with distinct similarity vectors: push can put several on one training patch; the exact
    /// solvers solve those as one and give them equal weights (Adam: not counted, equal to <see cref="Prototypes"/>).</summary>
    public int DistinctPrototypes { get; init; }
    /// <summary>Accuracy on the optimization set with the new last layer.</summary>
    public double Accuracy { get; init; }
    public double AccuracyBefore { get; init; }
    public int Count { get; init; }
    public double SimilaritySeconds { get; init; }
    /// <summary>True when the similarity vectors came from the latent features the preceding push kept (no network pass).</summary>
    public bool FromPushLatents { get; init; }
    public double SolveSeconds { get; init; }
    public double Seconds { get; init; }
}

/// <summary>
/// Stage 3: with backbone, add-on and prototypes frozen, each image's similarity vector is computed once (eval, no grad)
/// and the convex last-layer problem is solved on them — exactly (proximal Newton, or FISTA) or the authors' way (Adam passes).
/// </summary>
public static class LastLayerOptimizer
{
    public static LastLayerResult Optimize(ProtoPNetModel model, ImageDataset dataset, LastLayerOptions? options = null,
        IProgress<StageProgress>? progress = null, CancellationToken cancel = default)
    {
        options ??= new LastLayerOptions();
        ClassNameCheck.RequireSameClasses(model, dataset);
        if (!(options.Lambda >= 0))
            throw new ProtoPNetException("InvalidLambda", ErrorKind.InvalidArgument, $"Lambda must be zero or positive, not {options.Lambda}.", options.Lambda);
        var clock = Stopwatch.StartNew();
        lock (model.SyncRoot)
        {
            // Everything this stage makes is temporary (the solution is copied into the last layer): one scope holds it.
            using var stage = NewDisposeScope();
            var network = model.Network;
            var (similarities, labels) = SimilarityVectors(model, dataset, options.FeatureBatchSize, progress, cancel, out bool fromPushLatents);
            using (similarities)
            using (labels)
            {
                if (labels.shape[0] == 0)
                    throw new ProtoPNetException("EmptyDataset", ErrorKind.InvalidArgument, $"No image of dataset '{dataset.Name}' could be loaded.", dataset.Name);
                double similaritySeconds = clock.Elapsed.TotalSeconds;
                using var mask = network.PrototypeClassIdentity.t().RSub(1).to(ScalarType.Float64);
                using var initial = network.LastLayer.weight!.detach().clone();
                double accuracyBefore = Accuracy(similarities, labels, initial);
                var solveClock = Stopwatch.StartNew();
                Action<int, double, double> report = (i, objective, optimality) =>
                    progress?.Report(new StageProgress(i, options.MaxIterations, $"{options.Method} objective {objective:G6}, optimality {optimality:G3}"));
                SolveResult solved = options.Method switch
                {
                    LastLayerMethod.Newton => LastLayerSolver.Newton(similarities, labels, mask, initial, options.Lambda, options.Tolerance, options.MaxIterations, report, cancel),
                    LastLayerMethod.OwlQn => LastLayerSolver.OwlQn(similarities, labels, mask, initial, options.Lambda, options.Tolerance, options.MaxIterations, report, cancel),
                    LastLayerMethod.Fista => LastLayerSolver.Fista(similarities, labels, mask, initial, options.Lambda, options.Tolerance, options.MaxIterations, report, cancel),
                    _ => AdamPasses(similarities, labels, mask, initial, options, progress, cancel),
                };
                double solveSeconds = solveClock.Elapsed.TotalSeconds;
                using (solved.Weight)
                {
                    using (torch.no_grad()) network.LastLayer.weight!.copy_(solved.Weight.to(network.LastLayer.weight!.dtype));
                    using var wrong = mask.to(ScalarType.Bool);
                    using var zeros = solved.Weight.EqualTo(0).logical_and(wrong);
                    double sparsity = zeros.sum().item<long>() / Math.Max(1.0, wrong.sum().item<long>());
                    double accuracy = Accuracy(similarities, labels, solved.Weight);
                    var result = new LastLayerResult
                    {
                        Model = model.Name,
                        Method = solved.Method,
                        Lambda = options.Lambda,
                        Objective = solved.Objective,
                        CrossEntropy = solved.CrossEntropy,
                        Penalty = solved.Penalty,
                        Optimality = solved.Optimality,
                        Tolerance = options.Tolerance,
                        Converged = solved.Converged,
                        Iterations = solved.Iterations,
                        WrongClassSparsity = sparsity,
                        Prototypes = (int)mask.shape[1],
                        DistinctPrototypes = solved.DistinctPrototypes > 0 ? solved.DistinctPrototypes : (int)mask.shape[1],
                        Accuracy = accuracy,
                        AccuracyBefore = accuracyBefore,
                        Count = (int)labels.shape[0],
                        SimilaritySeconds = similaritySeconds,
                        FromPushLatents = fromPushLatents,
                        SolveSeconds = solveSeconds,
                        Seconds = clock.Elapsed.TotalSeconds,
                    };
                    model.History.Add(HistoryEntry.Record("LastLayer", $"{result.Method}, {result.Iterations} iterations, {dataset.Name}", new()
                    {
                        ["Lambda"] = result.Lambda,
                        ["Objective"] = result.Objective,
                        ["Optimality"] = result.Optimality,
                        ["WrongClassSparsity"] = result.WrongClassSparsity,
                        ["Accuracy"] = result.Accuracy,
                    }));
                    return result;
                }
            }
        }
    }

    /// <summary>
    /// Each loadable image's similarity vector [N, m] (float64) and label [N], in one eval-mode, no-grad pass; or, when
    /// push kept this dataset's latent features under the current weights (<see cref="LatentCache"/>), from those.
    /// </summary>
    public static (Tensor Similarities, Tensor Labels) SimilarityVectors(ProtoPNetModel model, ImageDataset dataset, int batchSize,
        IProgress<StageProgress>? progress, CancellationToken cancel) =>
        SimilarityVectors(model, dataset, batchSize, progress, cancel, out _);

    private static (Tensor Similarities, Tensor Labels) SimilarityVectors(ProtoPNetModel model, ImageDataset dataset, int batchSize,
        IProgress<StageProgress>? progress, CancellationToken cancel, out bool fromPushLatents)
    {
        fromPushLatents = false;
        if (model.LatentCache is { } cache)
        {
            if (cache.Matches(model.Network, dataset))
            {
                fromPushLatents = true;
                return (cache.Similarities(model, batchSize, progress, cancel), cache.Labels.clone());
            }
            model.KeepLatents(null);   // stale: the weights or the dataset changed since push
        }
        var reader = new BatchReader(dataset, model.ImageSize, model.Normalization);
        var parts = new List<Tensor>();
        var labelParts = new List<Tensor>();
        using var inference = InferenceScope.Begin(model);
        try
        {
            int done = 0;
            foreach (var batch in reader.Read(Enumerable.Range(0, dataset.Count).ToArray(), batchSize, model.Device, cancel))
            {
                using (batch)
                using (var scope = NewDisposeScope())
                {
                    var similarities = model.Infer(network =>
                    {
                        using var scope = NewDisposeScope();
                        var (_, minDistances) = network.ForwardNearest(network.BackboneFeatures(batch.Images));
                        return network.Similarities(minDistances).to(ScalarType.Float64).cpu().MoveToOuterDisposeScope();
                    });
                    parts.Add(similarities.DetachFromDisposeScope());
                    labelParts.Add(batch.Labels.cpu().clone().DetachFromDisposeScope());
                    done += batch.Indices.Length;
                }
                progress?.Report(new StageProgress(done, dataset.Count, "Computing similarity vectors"));
            }
            if (parts.Count == 0) return (torch.zeros(0, model.PrototypeCount, dtype: ScalarType.Float64), torch.zeros(0, dtype: ScalarType.Int64));
            return (torch.cat(parts, 0), torch.cat(labelParts, 0));
        }
        finally
        {
            foreach (var t in parts) t.Dispose();
            foreach (var t in labelParts) t.Dispose();
        }
    }

    private static double Accuracy(Tensor similarities, Tensor labels, Tensor weight)
    {
        using var scope = NewDisposeScope();
        var logits = similarities.matmul(weight.to(ScalarType.Float64).t());
        return logits.argmax(1).eq(labels).to(ScalarType.Float64).mean().item<double>();
    }

    /// <summary>The authors' stage 3: Adam (lr 1e-4) on CE + λ·L1 over shuffled minibatches, for a number of passes.</summary>
    public static SolveResult AdamPasses(Tensor similarities, Tensor labels, Tensor mask, Tensor initial, LastLayerOptions options,
        IProgress<StageProgress>? progress, CancellationToken cancel)
    {
        using var stage = NewDisposeScope();
        var s = similarities.to(ScalarType.Float32);
        var m32 = mask.to(ScalarType.Float32);
        var weight = new Parameter(initial.to(ScalarType.Float32).clone());
        // FusedAdam, not TorchSharp's Adam: the latter's step makes Scalars nothing holds (docs/performance.md, "Object lifetimes").
        using var optimizer = new FusedAdam([new Adam.ParamGroup([weight], options.LearningRate, 0.9, 0.999, 1e-8, 0, false, false)], options.LearningRate);
        long n = s.shape[0];
        var random = new Random(options.Seed ?? 0);
        int steps = 0;
        try
        {
            for (int pass = 0; pass < options.Passes; pass++)
            {
                var order = Enumerable.Range(0, (int)n).OrderBy(_ => random.Next()).Select(i => (long)i).ToArray();
                for (int start = 0; start < n; start += options.BatchSize)
                {
                    cancel.ThrowIfCancellationRequested();
                    using var scope = NewDisposeScope();
                    var rows = torch.tensor(order.AsSpan(start, (int)Math.Min(options.BatchSize, n - start)).ToArray());
                    var logits = s.index_select(0, rows).matmul(weight.t());
                    var loss = nn.functional.cross_entropy(logits, labels.index_select(0, rows)).Add((weight * m32).abs().sum().Mul(options.Lambda));
                    optimizer.zero_grad();
                    loss.backward();
                    optimizer.step();
                    steps++;
                }
                progress?.Report(new StageProgress(pass + 1, options.Passes, "Adam passes over the similarity vectors"));
            }
            using var noGrad = torch.no_grad();
            var w = weight.detach().to(ScalarType.Float64).clone();
            double ce;
            using (var value = LastLayerSolver.SmoothValue(similarities, labels, w)) ce = value.item<double>();
            double penalty = LastLayerSolver.Penalty(w, mask);
            double optimality = LastLayerSolver.Optimality(similarities, labels, w, mask, options.Lambda);
            return new SolveResult(w.MoveToOuterDisposeScope(), ce + options.Lambda * penalty, ce, penalty, optimality, steps, optimality <= options.Tolerance, "Adam");
        }
        finally
        {
            weight.Dispose();
            s.Dispose();
            m32.Dispose();
        }
    }
}
