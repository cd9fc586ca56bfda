using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Model;

/// <summary>Inference speed of one model at one batch size: the backbone alone, the whole ProtoPNet, and the part after the backbone.</summary>
public sealed record ForwardTiming(string Backbone, int ImageSize, int BatchSize, int PrototypeCount,
    double BackboneImagesPerSecond, double ModelImagesPerSecond, double HeadOverheadPercent)
{
    /// <summary>The whole forward's time over the backbone's, minus one, in percent (noisier than <see cref="HeadOverheadPercent"/>).</summary>
    public double ModelOverheadPercent => (BackboneImagesPerSecond / ModelImagesPerSecond - 1) * 100;
}

/// <summary>
/// Times forward passes in eval mode without gradients on random input. The three passes are interleaved and the
/// median taken, so that other load on a shared machine skews them alike. The head (add-on, distances, min-pool,
/// similarity, last layer) is also timed on its own, from backbone features computed once.
/// </summary>
public static class ForwardBenchmark
{
    /// <param name="repetitions">Least number of timed rounds; more are run until <paramref name="minimumSeconds"/> have passed (at most 200).</param>
    public static ForwardTiming Run(ProtoPNetModel model, int batchSize, int repetitions = 5, double minimumSeconds = 3)
    {
        if (batchSize < 1 || repetitions < 1) throw new ArgumentOutOfRangeException(nameof(batchSize));
        var network = model.Network;
        network.eval();
        using var _ = no_grad();
        using var input = rand(batchSize, 3, model.ImageSize, model.ImageSize, device: model.Device);
        using var features = network.Backbone.forward(input);
        var backbone = new List<double>();
        var whole = new List<double>();
        var head = new List<double>();
        var elapsed = Stopwatch.StartNew();
        for (int i = 0; i <= repetitions || (elapsed.Elapsed.TotalSeconds < minimumSeconds && i <= 200); i++)
        {   // the first round warms up and is not counted
            double b = Time(() => network.Backbone.forward(input).Dispose());
            double w = Time(() => network.forward(input).Dispose());
            double h = Time(() => network.ForwardFromBackboneFeatures(features).Dispose());
            if (i == 0) continue;
            backbone.Add(b); whole.Add(w); head.Add(h);
        }
        double backboneSeconds = Median(backbone), wholeSeconds = Median(whole), headSeconds = Median(head);
        return new ForwardTiming(model.Backbone, model.ImageSize, batchSize, model.PrototypeCount,
            batchSize / backboneSeconds, batchSize / wholeSeconds, headSeconds / backboneSeconds * 100);
    }

    private static double Time(Action pass)
    {
        using var scope = NewDisposeScope();
        var watch = Stopwatch.StartNew();
        pass();
        return watch.Elapsed.TotalSeconds;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        int n = values.Count;
        return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    }
}
