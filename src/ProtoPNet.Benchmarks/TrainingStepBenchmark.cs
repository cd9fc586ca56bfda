using System.Diagnostics;
using ProtoPNet.Model;
using ProtoPNet.Model.Backbones;
using ProtoPNet.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using ProtoPNet.Optimization;

namespace ProtoPNet.Benchmarks;

/// <summary>Milliseconds per training batch of a ProtoPNet joint step and of the same backbone's plain step.</summary>
public sealed record TrainingStepTiming(string Backbone, int ImageSize, int BatchSize, int PrototypeCount, int Rounds,
    double ProtoPNetMilliseconds, double PlainMilliseconds)
{
    public double ProtoPNetImagesPerSecond => BatchSize * 1000 / ProtoPNetMilliseconds;
    public double PlainImagesPerSecond => BatchSize * 1000 / PlainMilliseconds;
    /// <summary>What the ProtoPNet's add-on, prototype layer, costs and larger last layer add to a plain step, in percent.</summary>
    public double OverheadPercent => (ProtoPNetMilliseconds / PlainMilliseconds - 1) * 100;
}

/// <summary>
/// Times a joint-phase ProtoPNet training step (forward, the four-term loss, backward, FusedAdam over every group) against the
/// same backbone with global average pooling and a linear head (forward, cross-entropy, backward, FusedAdam), on random input
/// of one batch. The two steps alternate and the median of each is taken, so that other load skews them alike.
/// </summary>
public static class TrainingStepBenchmark
{
    public static TrainingStepTiming Run(string backbone, int imageSize, int batchSize, int classCount, int prototypesPerClass,
        int repetitions = 5, double minimumSeconds = 3)
    {
        var classes = Enumerable.Range(0, classCount).Select(c => $"c{c}").ToArray();
        using var model = ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = backbone, ImageSize = imageSize }, classes, prototypesPerClass, seed: 1);
        var network = model.Network;
        network.train();
        using var protoOptimizer = Optimizer(network.parameters());
        using var protoLayout = ChannelsLastWeights.Apply(network.Backbone, protoOptimizer);   // as the trainer does
        var plainBackbone = BackboneFactory.Create(backbone, pretrained: false);
        using var plain = PlainClassifier.Network(plainBackbone, classCount);
        plain.train();
        using var plainOptimizer = Optimizer(plain.parameters());
        using var plainLayout = ChannelsLastWeights.Apply(plainBackbone, plainOptimizer);
        using var images = torch.rand(batchSize, 3, imageSize, imageSize, generator: new Generator(1));
        using var labels = torch.randint(0, classCount, [batchSize], generator: new Generator(2));

        void ProtoPNetStep()
        {
            using var scope = NewDisposeScope();
            protoOptimizer.zero_grad();
            var (logits, minDistances) = network.ForwardNearest(network.BackboneFeatures(images));   // the trainer's path
            using var terms = ProtoPNetLoss.Compute(logits, minDistances, labels, network.PrototypeClassIdentity,
                network.LastLayer.weight!, LossCoefficients.Default);
            terms.Total.backward();
            protoOptimizer.step();
        }
        void PlainStep()
        {
            using var scope = NewDisposeScope();
            plainOptimizer.zero_grad();
            nn.functional.cross_entropy(plain.forward(ChannelsLast.Strides(images)), labels).backward();
            plainOptimizer.step();
        }

        ProtoPNetStep(); PlainStep();   // warm-up: allocations, oneDNN kernel selection
        var proto = new List<double>();
        var baseline = new List<double>();
        var elapsed = Stopwatch.StartNew();
        while (proto.Count < repetitions || (elapsed.Elapsed.TotalSeconds < minimumSeconds && proto.Count < 200))
        {
            proto.Add(Time(ProtoPNetStep));
            baseline.Add(Time(PlainStep));
        }
        return new TrainingStepTiming(backbone, imageSize, batchSize, model.PrototypeCount, proto.Count,
            ForwardBenchmark.Median(proto), ForwardBenchmark.Median(baseline));
    }

    // The trainer's optimizer for both steps, so that the ratio compares the heads and not two Adam implementations.
    internal static FusedAdam Optimizer(IEnumerable<Parameter> parameters) =>
        new([new Adam.ParamGroup(parameters, new Adam.Options { LearningRate = 1e-4 })], 1e-4);

    private static double Time(Action step)
    {
        var clock = Stopwatch.StartNew();
        step();
        return clock.Elapsed.TotalMilliseconds;
    }
}
