using System.Diagnostics;
using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Model.Backbones;
using ProtoPNet.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using ProtoPNet.Optimization;

namespace ProtoPNet.Benchmarks;

/// <summary>Settings of the plain-classifier baseline (the same backbone with average pooling and a linear head).</summary>
public sealed record PlainClassifierOptions
{
    public int Epochs { get; init; } = 5;
    /// <summary>Stop between batches once training has taken this long (0: no time budget).</summary>
    public double MaxSeconds { get; init; }
    public int BatchSize { get; init; } = 64;
    public double LearningRate { get; init; } = 1e-4;
    public double HeadLearningRate { get; init; } = 1e-3;
    public double WeightDecay { get; init; } = 1e-3;
    public int StepSize { get; init; } = 5;
    public double Gamma { get; init; } = 0.1;
    public int Seed { get; init; } = 1;
}

/// <summary>One epoch of the baseline (the last one may be cut short by the time budget).</summary>
public sealed record PlainEpoch(int Epoch, double TrainAccuracy, double? ValidationAccuracy, double Seconds, int Images);

/// <summary>
/// The non-interpretable baseline the paper compares against: a backbone of the same kind, global average pooling and a
/// linear layer, trained with cross-entropy and Adam on the same data and budget. When a validation set is given the
/// epoch with the best validation accuracy is kept (never the test set). Benchmarks report it beside the ProtoPNet.
/// </summary>
public sealed class PlainClassifier : IDisposable
{
    private readonly Sequential network;
    private readonly Backbone backbone;

    private PlainClassifier(Backbone backbone, int classCount)
    {
        this.backbone = backbone;
        network = Network(backbone, classCount);
    }

    /// <summary>backbone → global average pool → flatten → linear layer to the classes.</summary>
    internal static Sequential Network(Backbone backbone, int classCount) =>
        nn.Sequential(("features", backbone), ("pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()),
            ("fc", nn.Linear(backbone.OutChannels, classCount)));

    public int ImageSize { get; private init; }
    public ImageNormalization Normalization => backbone.DefaultNormalization;
    public IReadOnlyList<PlainEpoch> Epochs { get; private set; } = [];
    public double TrainingSeconds { get; private set; }

    /// <summary>Builds a randomly initialized baseline with the backbone <paramref name="backboneName"/> and trains it.</summary>
    public static PlainClassifier Train(string backboneName, int imageSize, ImageDataset train, ImageDataset? validation,
        PlainClassifierOptions? options = null, Action<string>? log = null, CancellationToken cancel = default)
    {
        options ??= new PlainClassifierOptions();
        torch.manual_seed(options.Seed);
        var classifier = new PlainClassifier(BackboneFactory.Create(backboneName, pretrained: false), train.ClassNames.Count) { ImageSize = imageSize };
        classifier.Fit(train, validation, options, log, cancel);
        return classifier;
    }

    private void Fit(ImageDataset train, ImageDataset? validation, PlainClassifierOptions options, Action<string>? log, CancellationToken cancel)
    {
        var head = network.children().Last();
        var groups = new List<Adam.ParamGroup>
        {
            new(backbone.parameters(), new Adam.Options { LearningRate = options.LearningRate, weight_decay = options.WeightDecay }),
            new(head.parameters(), new Adam.Options { LearningRate = options.HeadLearningRate }),
        };
        // The ProtoPNet trainer's optimizer, so that plain-versus-ProtoPNet figures compare the heads, not two Adams.
        using var optimizer = new FusedAdam(groups, options.LearningRate);
        using var layout = ChannelsLastWeights.Apply(backbone, optimizer);   // as the trainer holds a training backbone
        var scheduler = optim.lr_scheduler.StepLR(optimizer, options.StepSize, options.Gamma);
        var reader = new BatchReader(train, ImageSize, Normalization);
        var random = new Random(options.Seed);
        var epochs = new List<PlainEpoch>();
        var clock = Stopwatch.StartNew();
        double bestValidation = double.NegativeInfinity;
        Dictionary<string, Tensor>? best = null;
        bool outOfTime = false;
        for (int epoch = 1; epoch <= options.Epochs && !outOfTime; epoch++)
        {
            var epochClock = Stopwatch.StartNew();
            var order = Enumerable.Range(0, train.Count).OrderBy(_ => random.Next()).ToArray();
            int seen = 0, correct = 0;
            network.train();
            foreach (var batch in reader.Read(order, options.BatchSize, null, cancel))
            {
                using (batch)
                using (NewDisposeScope())
                {
                    optimizer.zero_grad();
                    var logits = network.forward(ChannelsLast.Strides(batch.Images));
                    nn.functional.cross_entropy(logits, batch.Labels).backward();
                    optimizer.step();
                    correct += (int)logits.argmax(1).eq(batch.Labels).sum().item<long>();
                    seen += batch.Indices.Length;
                }
                if (options.MaxSeconds > 0 && clock.Elapsed.TotalSeconds >= options.MaxSeconds) { outOfTime = true; break; }
            }
            scheduler.step();
            double? validationAccuracy = validation is null ? null : Accuracy(validation);
            epochs.Add(new PlainEpoch(epoch, correct / Math.Max(1.0, seen), validationAccuracy, epochClock.Elapsed.TotalSeconds, seen));
            log?.Invoke($"plain epoch {epoch}: train {correct / Math.Max(1.0, seen):P2}, validation {validationAccuracy:P2}, {epochClock.Elapsed.TotalSeconds:F1} s");
            if (validationAccuracy is double v && v > bestValidation)
            {
                bestValidation = v;
                if (best is not null) foreach (var t in best.Values) t.Dispose();
                best = network.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone().DetachFromDisposeScope());
            }
        }
        if (best is not null)
        {
            network.load_state_dict(best);
            foreach (var t in best.Values) t.Dispose();
        }
        Epochs = epochs;
        TrainingSeconds = clock.Elapsed.TotalSeconds;
    }

    /// <summary>Top-1 accuracy in eval mode without gradients, as ProtoPNet inference.</summary>
    public double Accuracy(ImageDataset dataset, int batchSize = 100)
    {
        using var noGrad = torch.no_grad();
        network.eval();
        int correct = 0, count = 0;
        foreach (var batch in new BatchReader(dataset, ImageSize, Normalization).Read(Enumerable.Range(0, dataset.Count).ToArray(), batchSize))
        {
            using (batch)
            using (NewDisposeScope())
            {
                correct += (int)network.forward(ChannelsLast.Strides(batch.Images)).argmax(1).eq(batch.Labels).sum().item<long>();
                count += batch.Indices.Length;
            }
        }
        return correct / Math.Max(1.0, count);
    }

    public void Dispose() => network.Dispose();
}
