using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using ProtoPNet.Evaluation;

namespace ProtoPNet.Tests;

public class TrainingTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "ptpn-train-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
    }

    private static TrainingOptions Options(int warm, int joint, string? checkpoints = null, bool resume = false, long cacheBytes = 1L << 30) => new()
    {
        Phases = [TrainingPhase.Warm(warm), TrainingPhase.Joint(joint, stepSize: 1)],
        BatchSize = 8,
        Seed = 42,
        CheckpointDirectory = checkpoints,
        Resume = resume,
        FeatureCacheBytes = cacheBytes,
    };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void WarmLeavesBackboneAndBatchNormBitIdenticalAndJointChangesThem(bool cache)
    {
        using var model = TestData.Model(2);
        var data = TestData.Images(24, 2, 16, seed: 3);
        var backboneBefore = TestData.State(model.Network, "features.");
        var addOnBefore = TestData.State(model.Network, "add_on_layers.");
        var prototypesBefore = TestData.State(model.Network, "prototype_vectors");
        var lastBefore = TestData.State(model.Network, "last_layer.");

        var summary = ProtoPNetTrainer.Train(model, data, null, Options(2, 0, cacheBytes: cache ? 1L << 30 : 0) with { Phases = [TrainingPhase.Warm(2)] });
        Assert.Equal(cache, summary.Epochs[0].BackboneCached);
        var backboneWarm = TestData.State(model.Network, "features.");
        Assert.Contains(backboneBefore.Keys, k => k.Contains("running_mean"));
        foreach (var (name, values) in backboneBefore) Assert.True(TestData.BitIdentical(values, backboneWarm[name]), $"warm changed {name}");
        Assert.Contains(addOnBefore, kv => !TestData.BitIdentical(kv.Value, TestData.State(model.Network, "add_on_layers.")[kv.Key]));
        Assert.False(TestData.BitIdentical(prototypesBefore["prototype_vectors"], TestData.State(model.Network, "prototype_vectors")["prototype_vectors"]));
        // The authors' stage 1 leaves the last layer to stage 3.
        foreach (var (name, values) in lastBefore) Assert.True(TestData.BitIdentical(values, TestData.State(model.Network, "last_layer.")[name]));

        ProtoPNetTrainer.Train(model, data, null, Options(0, 1) with { Phases = [TrainingPhase.Joint(1)] });
        var backboneJoint = TestData.State(model.Network, "features.");
        Assert.False(TestData.BitIdentical(backboneWarm["features.features.conv1.weight"], backboneJoint["features.features.conv1.weight"]));
        Assert.False(TestData.BitIdentical(backboneWarm["features.features.bn1.running_mean"], backboneJoint["features.features.bn1.running_mean"]));
    }

    [Fact]
    public void WarmBatchNormTrainMovesTheRunningStatisticsButNeverTheWeightsAndSkipsTheCache()
    {
        using var model = TestData.Model(2);
        var data = TestData.Images(24, 2, 16, seed: 3);
        var before = TestData.State(model.Network, "features.");
        var summary = ProtoPNetTrainer.Train(model, data, null, Options(2, 0) with { Phases = [TrainingPhase.Warm(2)], WarmBatchNorm = WarmBatchNorm.Train });
        Assert.All(summary.Epochs, e => Assert.False(e.BackboneCached));   // batch statistics: the backbone's output depends on the batch
        var after = TestData.State(model.Network, "features.");
        foreach (var (name, values) in before)
        {
            bool statistic = name.EndsWith("running_mean") || name.EndsWith("running_var") || name.EndsWith("num_batches_tracked");
            if (statistic) Assert.False(TestData.BitIdentical(values, after[name]), $"{name} did not follow the data");
            else Assert.True(TestData.BitIdentical(values, after[name]), $"warm changed the weight {name}");
        }
    }

    /// <summary>Cancelled inside a warm epoch (the resumed run rebuilds the feature cache) or inside the second joint
    /// epoch (the Adam moments and the StepLR position must come back from the checkpoint).</summary>
    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void ResumeAfterCancellationEqualsAnUninterruptedRun(int cancelEpoch)
    {
        var data = TestData.Images(24, 2, 16, seed: 5);
        using var uninterrupted = TestData.Model(2, seed: 9);
        var full = ProtoPNetTrainer.Train(uninterrupted, data, null, Options(2, 3, Path.Combine(directory, "a")));
        Assert.Equal(5, full.Epochs.Count);

        string checkpoints = Path.Combine(directory, "b");
        using (var interrupted = TestData.Model(2, seed: 9))
        {
            using var cts = new CancellationTokenSource();
            var callbacks = new TrainingCallbacks { Progress = new ProgressCallback(p => { if (p.Epoch == cancelEpoch && p.Done == 1 && p.Activity == "Training") cts.Cancel(); }) };
            Assert.ThrowsAny<OperationCanceledException>(() => ProtoPNetTrainer.Train(interrupted, data, null, Options(2, 3, checkpoints), callbacks, cts.Token));
            // The model stays usable.
            using var _ = torch.no_grad();
            using var output = interrupted.Network.forward(torch.rand(1, 3, 16, 16));
            Assert.Equal(new long[] { 1, 2 }, output.Logits.shape);
        }
        Assert.Single(Directory.GetFiles(checkpoints));   // no temporary file left behind
        using (var checkpoint = TrainingCheckpoint.Load(Path.Combine(checkpoints, ProtoPNetTrainer.CheckpointFileName)))
            Assert.Equal(cancelEpoch - 1, checkpoint.State.CompletedEpochs);

        using var resumed = TestData.Model(2, seed: 1234);   // different initial weights: all must come from the checkpoint
        var rest = ProtoPNetTrainer.Train(resumed, data, null, Options(2, 3, checkpoints, resume: true));
        Assert.Equal(cancelEpoch - 1, rest.ResumedFromEpoch);
        Assert.Equal(new[] { 1, 2, 3, 4, 5 }, rest.Epochs.Select(e => e.Epoch));
        var expected = TestData.State(uninterrupted.Network);
        var actual = TestData.State(resumed.Network);
        foreach (var (name, values) in expected) Assert.True(TestData.BitIdentical(values, actual[name]), $"{name} differs after resume");
        Assert.Equal(full.Epochs[^1].Loss, rest.Epochs[^1].Loss);
    }

    [Fact]
    public void OnlineAugmentationIsSeededPerEpochSoResumeRepeatsItAndItChangesTraining()
    {
        var data = TestData.Images(16, 2, 16, seed: 7);
        string directory = Directory.CreateTempSubdirectory("ptpn-aug-").FullName;
        try
        {
            var augmented = Options(1, 2) with { Augmentation = ImageAugmentation.Authors };
            using var full = TestData.Model(2);
            ProtoPNetTrainer.Train(full, data, null, augmented);
            using var plain = TestData.Model(2);
            ProtoPNetTrainer.Train(plain, data, null, Options(1, 2));
            // Same seed, with and without augmentation: the images differed, so the weights do.
            Assert.False(TestData.BitIdentical(TestData.State(full.Network)["prototype_vectors"], TestData.State(plain.Network)["prototype_vectors"]));

            // Interrupted after the warm epoch and resumed: the same augmentations, so the same weights.
            using var resumed = TestData.Model(2);
            string checkpoints = Path.Combine(directory, "ckpt");
            ProtoPNetTrainer.Train(resumed, data, null, augmented with { CheckpointDirectory = checkpoints, Phases = [augmented.Phases[0]] });
            ProtoPNetTrainer.Train(resumed, data, null, augmented with { CheckpointDirectory = checkpoints, Resume = true });
            foreach (var (name, values) in TestData.State(full.Network))
                Assert.True(TestData.BitIdentical(values, TestData.State(resumed.Network)[name]), name);
        }
        finally { Directory.Delete(directory, true); }
    }

    [Fact]
    public void ValidationSelectsAndRestoresTheBestEpoch()
    {
        using var model = TestData.Model(2);
        var data = TestData.Images(16, 2, 16, seed: 7);
        var validation = TestData.Images(8, 2, 16, seed: 8, name: "validation");
        var epochs = new List<TrainingEpochResult>();
        var summary = ProtoPNetTrainer.Train(model, data, validation, Options(1, 2), new TrainingCallbacks { EpochCompleted = epochs.Add });
        Assert.Equal(3, epochs.Count);
        Assert.All(epochs, e => Assert.NotNull(e.ValidationAccuracy));
        double best = epochs.Max(e => e.ValidationAccuracy!.Value);
        Assert.Equal(best, summary.BestValidationAccuracy);
        Assert.Equal(epochs.First(e => e.ValidationAccuracy == best).Epoch, summary.BestEpoch);
        Assert.Equal(best, ModelEvaluator.Evaluate(model, validation).Accuracy);
    }

    [Fact]
    public void NonFiniteLossStopsNamingEpochAndBatchAndKeepsWeights()
    {
        using var model = TestData.Model(2);
        var data = TestData.Images(16, 2, 16, seed: 7);
        data.Images[9, 0, 0, 0] = torch.tensor(float.NaN);   // item 9 lands in some batch of epoch 1
        var before = TestData.State(model.Network);
        var error = Assert.Throws<ProtoPNetException>(() => ProtoPNetTrainer.Train(model, data, null, Options(1, 0) with { Phases = [TrainingPhase.Warm(1)] }));
        Assert.Equal("NonFiniteLoss", error.ErrorId);
        Assert.Contains("epoch 1, batch", error.Message);
        int batch = Array.IndexOf(ProtoPNetTrainer.ShuffleOrder(42, 1, 16), 9) / 8 + 1;
        Assert.Contains($"batch {batch} of 2", error.Message);
        if (batch == 1)
            foreach (var (name, values) in before) Assert.True(TestData.BitIdentical(values, TestData.State(model.Network)[name]), name);
    }

    [Fact]
    public void DatasetWithOtherClassesIsRefusedWithClassMismatch()
    {
        using var model = TestData.Model(2);
        var data = TestData.Images(8, 2, 16, seed: 1, classNames: ["cat", "dog"]);
        var error = Assert.Throws<ProtoPNetException>(() => ProtoPNetTrainer.Train(model, data, null, Options(1, 0)));
        Assert.Equal("ClassMismatch", error.ErrorId);
    }

    [Fact]
    public void EvaluationCountsAgreeWithTheConfusionMatrix()
    {
        using var model = TestData.Model(3);
        var data = TestData.Images(15, 3, 16, seed: 2);
        var result = ModelEvaluator.Evaluate(model, data, batchSize: 4);
        Assert.Equal(15, result.Count);
        int trace = 0, total = 0;
        for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) { total += result.Confusion[i, j]; if (i == j) trace += result.Confusion[i, j]; }
        Assert.Equal(15, total);
        Assert.Equal((double)trace / 15, result.Accuracy, 10);
        Assert.Equal(1.0, result.Top5Accuracy);   // 3 classes: the true one is always in the top 5
        Assert.All(result.PerClass, c => Assert.Equal(5, c.Count));
        // Agreement with a direct forward pass.
        model.Network.eval();
        using var _ = torch.no_grad();
        var batch = new BatchReader(data, 16, model.Normalization).Read(Enumerable.Range(0, 15).ToArray(), 15).Single();
        using var output = model.Network.forward(batch.Images);
        long correct = output.Logits.argmax(1).eq(batch.Labels).sum().item<long>();
        Assert.Equal(correct, trace);
    }
}

public class TrainingPersistenceTests
{
    [Fact]
    public void ATrainedPushedAndSolvedModelRoundTripsThroughTheModelFile()
    {
        using var model = TestData.Model(2);
        var data = TestData.Images(8, 2, 16, seed: 4, labels: [0, 0, 0, 0, 0, 0, 0, 0]);
        // No validation set (no best accuracy) and a class without images (unpushed prototypes): nothing NaN may reach the file.
        ProtoPNetTrainer.Train(model, data, null, new TrainingOptions { Phases = [TrainingPhase.Warm(1)], BatchSize = 4, Seed = 1 });
        Projection.PrototypePush.Push(model, data);
        LastLayer.LastLayerOptimizer.Optimize(model, data, new LastLayer.LastLayerOptions { MaxIterations = 20 });
        string path = Path.Combine(Path.GetTempPath(), $"ptpn-{Guid.NewGuid():N}.ptpn");
        try
        {
            Persistence.ModelFile.Save(model, path);
            using var loaded = Persistence.ModelFile.Load(path);
            Assert.Equal(new[] { "Training", "Push", "LastLayer" }, loaded.History.Select(h => h.Stage));
            Assert.Equal(model.Provenance[0]!.SourceIndex, loaded.Provenance[0]!.SourceIndex);
            Assert.Null(loaded.Provenance[3]);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
