using System.Diagnostics;
using ProtoPNet.Model;
using ProtoPNet.Model.Backbones;
using ProtoPNet.Training;
using TorchSharp;
using static TorchSharp.torch;
using ProtoPNet.Optimization;

namespace ProtoPNet.Benchmarks;

/// <summary>One configuration's training step built up layer by layer: median milliseconds of each cumulative step.</summary>
public sealed record TrainingStepStages(string Backbone, int ImageSize, int BatchSize, int PrototypeCount, int Rounds,
    IReadOnlyList<(string Stage, double Milliseconds)> Stages);

/// <summary>
/// Where a ProtoPNet training step's time goes beyond its backbone's: forward and backward of growing prefixes of the
/// step (backbone alone, + the NCHW copy of its output, + add-on, + nearest-patch distances, + similarity, last layer
/// and cross-entropy, + cluster, separation and L1 terms, + zero_grad and FusedAdam), each with a scalar loss so that
/// backward runs through exactly that prefix. The prefixes alternate within every round and the median of each is
/// taken, so the differences between neighbours are what each piece adds. Last, the whole step timed back to back
/// (no other work between steps), as the trainer runs it.
/// </summary>
public static class TrainingStepBreakdown
{
    public static TrainingStepStages Run(string backbone, int imageSize, int batchSize, int classCount, int prototypesPerClass,
        int repetitions = 5, double minimumSeconds = 3)
    {
        var classes = Enumerable.Range(0, classCount).Select(c => $"c{c}").ToArray();
        using var model = ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = backbone, ImageSize = imageSize }, classes, prototypesPerClass, seed: 1);
        var network = model.Network;
        network.train();
        using var optimizer = TrainingStepBenchmark.Optimizer(network.parameters());
        using var layout = ChannelsLastWeights.Apply(network.Backbone, optimizer);   // as the trainer holds a training backbone
        using var images = torch.rand(batchSize, 3, imageSize, imageSize, generator: new Generator(1));
        using var labels = torch.randint(0, classCount, [batchSize], generator: new Generator(2));

        LossTerms Loss(Tensor logits, Tensor minDistances) => ProtoPNetLoss.Compute(logits, minDistances, labels,
            network.PrototypeClassIdentity, network.LastLayer.weight!, LossCoefficients.Default);
        (string, Action)[] stages =
        [
            ("backbone (channels-last output)", () => network.Backbone.forward(ChannelsLast.Strides(images)).sum().backward()),
            ("+ NCHW copy of the features", () => network.BackboneFeatures(images).sum().backward()),
            ("+ add-on", () => network.AddOn.forward(network.BackboneFeatures(images)).sum().backward()),
            ("+ nearest-patch distances", () => PrototypeDistances.Nearest(network.AddOn.forward(network.BackboneFeatures(images)), network.Prototypes).sum().backward()),
            ("+ similarity, last layer, cross-entropy", () =>
                nn.functional.cross_entropy(network.ForwardNearest(network.BackboneFeatures(images)).Logits, labels).backward()),
            ("+ cluster, separation, L1", () =>
            {
                var (logits, minDistances) = network.ForwardNearest(network.BackboneFeatures(images));
                using var terms = Loss(logits, minDistances);
                terms.Total.backward();
            }),
            ("+ zero_grad and FusedAdam (the trainer's step)", () =>
            {
                optimizer.zero_grad();
                var (logits, minDistances) = network.ForwardNearest(network.BackboneFeatures(images));
                using var terms = Loss(logits, minDistances);
                terms.Total.backward();
                optimizer.step();
            }),
        ];
        var times = stages.Select(_ => new List<double>()).ToArray();
        foreach (var (_, stage) in stages) Scoped(stage);   // warm-up: allocations, oneDNN kernel selection
        var elapsed = Stopwatch.StartNew();
        while (times[0].Count < repetitions || (elapsed.Elapsed.TotalSeconds < minimumSeconds * stages.Length && times[0].Count < 200))
        {
            for (int i = 0; i < stages.Length; i++)
            {
                network.zero_grad();   // each prefix starts from the same (empty) gradients
                var clock = Stopwatch.StartNew();
                Scoped(stages[i].Item2);
                times[i].Add(clock.Elapsed.TotalMilliseconds);
            }
        }
        // The whole step again, back to back as the trainer runs it: what alternating with other work costs it.
        var backToBack = new List<double>();
        for (int round = 0; round < times[0].Count; round++)
        {
            var clock = Stopwatch.StartNew();
            Scoped(stages[^1].Item2);
            backToBack.Add(clock.Elapsed.TotalMilliseconds);
        }
        var medians = stages.Select((s, i) => (s.Item1, ForwardBenchmark.Median(times[i]))).ToList();
        medians.Add(("the trainer's step, back to back", ForwardBenchmark.Median(backToBack)));
        return new TrainingStepStages(backbone, imageSize, batchSize, model.PrototypeCount, times[0].Count, medians);
    }

    private static void Scoped(Action stage)
    {
        using var scope = NewDisposeScope();
        stage();
    }
}
