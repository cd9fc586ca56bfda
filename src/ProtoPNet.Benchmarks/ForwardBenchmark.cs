using System.Diagnostics;
using TorchSharp;
using ProtoPNet.Model;
using static TorchSharp.torch;

namespace ProtoPNet.Benchmarks;

/// <summary>
/// Inference speed of one model at one batch size: the backbone alone, the whole ProtoPNet, and the part after the
/// backbone (the head: add-on, distances, min-pool, similarity, last layer). Images per second of wall-clock time,
/// and per CPU-second of this process, which other load on a shared machine disturbs far less; the overheads are
/// taken from CPU time.
/// </summary>
public sealed record ForwardTiming(string Backbone, int ImageSize, int BatchSize, int PrototypeCount, int Rounds,
    double BackboneImagesPerSecond, double ModelImagesPerSecond,
    double BackboneImagesPerCpuSecond, double ModelImagesPerCpuSecond, double HeadImagesPerCpuSecond, double AddOnImagesPerCpuSecond,
    double ScopedModelImagesPerSecond, double ScopedModelImagesPerCpuSecond)
{
    /// <summary>How much faster the whole forward runs inside an inference scope (folded BatchNorm, kept weights), in percent of CPU time.</summary>
    public double ScopeGainPercent => (ScopedModelImagesPerCpuSecond / ModelImagesPerCpuSecond - 1) * 100;

    /// <summary>What the head adds to the backbone's time, in percent (timed on its own, from backbone features).</summary>
    public double HeadOverheadPercent => BackboneImagesPerCpuSecond / HeadImagesPerCpuSecond * 100;

    /// <summary>What the add-on 1×1 convolutions alone add to the backbone's time, in percent.</summary>
    public double AddOnOverheadPercent => BackboneImagesPerCpuSecond / AddOnImagesPerCpuSecond * 100;

    /// <summary>What the prototype layer, min-pool, similarity and last layer add: the head less the add-on, in percent.</summary>
    public double PrototypeAndLastLayerOverheadPercent => HeadOverheadPercent - AddOnOverheadPercent;

    /// <summary>The whole forward's time over the backbone's, minus one, in percent.</summary>
    public double ModelOverheadPercent => (BackboneImagesPerCpuSecond / ModelImagesPerCpuSecond - 1) * 100;
}

/// <summary>
/// Times forward passes in eval mode without gradients on random input. The passes are interleaved and the median of
/// each taken, so that other load skews them alike. The whole forward is timed twice per round: as a single call runs
/// it, and inside an <see cref="InferenceScope"/> as bulk passes run it (its weights prepared by an untimed pass).
/// </summary>
public static class ForwardBenchmark
{
    /// <param name="repetitions">Least number of timed rounds; more are run until <paramref name="minimumSeconds"/> have passed (at most 200).</param>
    public static ForwardTiming Run(ProtoPNetModel model, int batchSize, int repetitions = 5, double minimumSeconds = 3)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize));
        if (repetitions < 1) throw new ArgumentOutOfRangeException(nameof(repetitions));
        var network = model.Network;
        network.eval();
        using var _ = no_grad();
        using var input = rand(batchSize, 3, model.ImageSize, model.ImageSize, device: model.Device);
        using var features = network.BackboneFeatures(input);
        var backbone = new List<(double Wall, double Cpu)>();
        var whole = new List<(double Wall, double Cpu)>();
        var head = new List<(double Wall, double Cpu)>();
        var addOn = new List<(double Wall, double Cpu)>();
        var scoped = new List<(double Wall, double Cpu)>();
        var elapsed = Stopwatch.StartNew();
        int round = 0;
        for (; round <= repetitions || (elapsed.Elapsed.TotalSeconds < minimumSeconds && round <= 200); round++)
        {
            var b = Time(() => network.BackboneFeatures(input).Dispose());
            var w = Time(() => network.forward(input).Dispose());
            var h = Time(() => network.ForwardFromBackboneFeatures(features).Dispose());
            var a = Time(() => network.AddOn.forward(features).Dispose());
            (double Wall, double Cpu) s;
            using (InferenceScope.Begin(model))
            {
                network.forward(input).Dispose();
                s = Time(() => network.forward(input).Dispose());
            }
            if (round == 0) continue;   // the first round warms up and is not counted
            backbone.Add(b); whole.Add(w); head.Add(h); addOn.Add(a); scoped.Add(s);
        }
        double PerSecond(List<(double Wall, double Cpu)> times, bool cpu) => batchSize / Median(times.Select(t => cpu ? t.Cpu : t.Wall));
        return new ForwardTiming(model.Backbone, model.ImageSize, batchSize, model.PrototypeCount, round - 1,
            PerSecond(backbone, false), PerSecond(whole, false),
            PerSecond(backbone, true), PerSecond(whole, true), PerSecond(head, true), PerSecond(addOn, true),
            PerSecond(scoped, false), PerSecond(scoped, true));
    }

    private static (double Wall, double Cpu) Time(Action pass)
    {
        using var scope = NewDisposeScope();
        using var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        pass();
        double wall = watch.Elapsed.TotalSeconds;
        process.Refresh();
        return (wall, (process.TotalProcessorTime - cpu).TotalSeconds);
    }

    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
