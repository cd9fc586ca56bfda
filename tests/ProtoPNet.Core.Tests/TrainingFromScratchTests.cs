using ProtoPNet.Model;
using ProtoPNet.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ProtoPNet.Tests;

/// <summary>The from-scratch recipe: the backbone phase (a plain classifier's training through the pooled head), its
/// resumption, the choice of defaults by backbone, and the warning for a run that stays at chance.</summary>
public class TrainingFromScratchTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "ptpn-scratch-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
    }

    private static TrainingOptions Recipe(string? checkpoints = null, bool resume = false) => new()
    {
        Phases = [TrainingPhase.Backbone(2), TrainingPhase.Warm(1), TrainingPhase.Joint(1, stepSize: 1)],
        BatchSize = 8,
        Seed = 7,
        CheckpointDirectory = checkpoints,
        Resume = resume,
    };

    [Fact]
    public void TheBackbonePhaseFollowsTheBackboneNotWhetherTheScheduleWasNamed()
    {
        using var model = TestData.Model(2);
        Assert.False(model.BackboneIsTrained);
        // Named warm and joint lengths on a random backbone: the backbone phase still runs first.
        var (named, schedule) = TrainingRecipe.Build(model, new TrainingRequest { WarmEpochs = 3, Epochs = 15 });
        Assert.Equal(["Backbone", "Warm", "Joint"], named.Phases.Select(p => p.Name));
        Assert.Equal([3, 3, 15], named.Phases.Select(p => p.Epochs));
        Assert.Equal("Schedule: 3 backbone epochs (the backbone starts from random weights; -BackboneEpochs 0 turns them off), 3 warm, 15 joint.", schedule);
        var (off, offSchedule) = TrainingRecipe.Build(model, new TrainingRequest { BackboneEpochs = 0, WarmEpochs = 3, Epochs = 15 });
        Assert.Equal(["Warm", "Joint"], off.Phases.Select(p => p.Name));
        Assert.Equal("Schedule: 0 backbone epochs, 3 warm, 15 joint.", offSchedule);
        // A backbone that trained before gets the authors' recipe: no backbone phase, their batch and rates.
        model.History.Add(new HistoryEntry { Stage = "Training" });
        var (pretrained, _) = TrainingRecipe.Build(model, new TrainingRequest());
        Assert.Equal(["Warm", "Joint"], pretrained.Phases.Select(p => p.Name));
        Assert.Equal(80, pretrained.BatchSize);
        Assert.Equal(1e-4, pretrained.Phases[1].Groups.Single(g => g.Group == ParameterGroup.Backbone).LearningRate);
        Assert.All(pretrained.Phases[1].Groups.Where(g => g.Group is ParameterGroup.Backbone or ParameterGroup.AddOn), g => Assert.Equal(1e-3, g.WeightDecay));
    }

    [Fact]
    public void BackbonePhaseTrainsOnlyTheBackboneAndTheProtoPNetPhasesFollow()
    {
        using var model = TestData.Model(2);
        var data = TestData.Images(24, 2, 16, seed: 3);
        var before = TestData.State(model.Network);
        var summary = ProtoPNetTrainer.Train(model, data, null, Recipe() with { Phases = [TrainingPhase.Backbone(2)] });
        Assert.All(summary.Epochs, e => Assert.Equal("Backbone", e.Phase));
        Assert.All(summary.Epochs, e => Assert.True(e.CrossEntropy > 0 && e.CrossEntropy == e.Loss && double.IsNaN(e.Cluster)));
        var after = TestData.State(model.Network);
        // The backbone learned; the ProtoPNet head (add-on, prototypes, last layer) did not take part.
        foreach (var (name, values) in before.Where(kv => !kv.Key.StartsWith("features.", StringComparison.Ordinal)))
            Assert.True(TestData.BitIdentical(values, after[name]), $"{name} changed in the backbone phase");
        Assert.False(TestData.BitIdentical(before["features.features.conv1.weight"], after["features.features.conv1.weight"]));
        Assert.False(TestData.BitIdentical(before["features.features.bn4.running_mean"], after["features.features.bn4.running_mean"]));
        Assert.True(TestData.BitIdentical(before["prototype_vectors"], after["prototype_vectors"]));
    }

    /// <summary>Cancelled in the second backbone epoch: the pooled head's weights and Adam moments come back from the checkpoint.</summary>
    [Fact]
    public void ResumeInTheBackbonePhaseEqualsAnUninterruptedRun()
    {
        var data = TestData.Images(24, 2, 16, seed: 5);
        using var uninterrupted = TestData.Model(2, seed: 9);
        var full = ProtoPNetTrainer.Train(uninterrupted, data, null, Recipe(Path.Combine(directory, "a")));
        Assert.Equal(new[] { "Backbone", "Backbone", "Warm", "Joint" }, full.Epochs.Select(e => e.Phase));

        string checkpoints = Path.Combine(directory, "b");
        using (var interrupted = TestData.Model(2, seed: 9))
        {
            using var cts = new CancellationTokenSource();
            var callbacks = new TrainingCallbacks { Progress = new ProgressCallback(p => { if (p.Epoch == 2 && p.Done == 1 && p.Activity == "Training") cts.Cancel(); }) };
            Assert.ThrowsAny<OperationCanceledException>(() => ProtoPNetTrainer.Train(interrupted, data, null, Recipe(checkpoints), callbacks, cts.Token));
        }
        using var resumed = TestData.Model(2, seed: 1234);
        var rest = ProtoPNetTrainer.Train(resumed, data, null, Recipe(checkpoints, resume: true));
        Assert.Equal(1, rest.ResumedFromEpoch);
        var expected = TestData.State(uninterrupted.Network);
        var actual = TestData.State(resumed.Network);
        foreach (var (name, values) in expected) Assert.True(TestData.BitIdentical(values, actual[name]), $"{name} differs after resume");
        Assert.Equal(full.Epochs[^1].Loss, rest.Epochs[^1].Loss);
    }

    [Fact]
    public void DefaultsFollowWhetherTheBackboneHoldsLearnedWeights()
    {
        using var model = TestData.Model(2);
        Assert.False(model.BackboneIsTrained);
        Assert.Same(TrainingDefaults.FromScratch, TrainingDefaults.For(model));
        Assert.True(TrainingDefaults.FromScratch.BackboneEpochs > 0);
        model.History.Add(new HistoryEntry { Stage = "BackboneWeights", Note = "resnet18.pth" });
        Assert.True(model.BackboneIsTrained);
        var authors = TrainingDefaults.For(model);
        Assert.Same(TrainingDefaults.Pretrained, authors);
        Assert.Equal((0, 5, 10, 80, 1e-4, 5), (authors.BackboneEpochs, authors.WarmEpochs, authors.Epochs, authors.BatchSize, authors.BackboneLearningRate, authors.StepSize));
    }

    private static TrainingEpochResult Epoch(double accuracy, double crossEntropy, double cluster = 1, double separation = 1) =>
        new() { Epoch = 1, Phase = "Joint", TrainAccuracy = accuracy, CrossEntropy = crossEntropy, Cluster = cluster, Separation = separation };

    [Fact]
    public void ChanceCheckWarnsAtChanceWithTheLikelyCauseAndNotWhenTheRunLearned()
    {
        int[] counts = [200, 200, 200, 200, 200, 200, 200, 200];
        var authors = new TrainingOptions { Phases = [TrainingPhase.Warm(5), TrainingPhase.Joint(10)] };
        Assert.Equal(0.125, ChanceCheck.ChanceAccuracy(counts));

        var collapsed = ChanceCheck.Warning([Epoch(0.13, 2.5, 1, 1), Epoch(0.135, Math.Log(8), 0.09, 0.07)], counts, authors, backbonePretrained: false);
        Assert.NotNull(collapsed);
        Assert.Contains("chance", collapsed);
        Assert.Contains("collapsed", collapsed);
        Assert.Contains("-BackboneLearningRate", collapsed);
        Assert.Contains("-WarmEpochs 0", collapsed);
        Assert.Contains("uniform guess", collapsed);

        Assert.Null(ChanceCheck.Warning([Epoch(0.13, 2.5), Epoch(0.60, 1.1)], counts, authors, backbonePretrained: false));
        Assert.Null(ChanceCheck.Warning([Epoch(0.99, 0.05)], counts, authors, backbonePretrained: true));
        // A pretrained backbone at chance is not blamed on its learning rate.
        var pretrained = ChanceCheck.Warning([Epoch(0.12, 2.08)], counts, authors, backbonePretrained: true);
        Assert.NotNull(pretrained);
        Assert.DoesNotContain("-BackboneLearningRate", pretrained);
        // The band: chance + max(2 points, 3 standard errors) over 1,600 images is 15.0 %.
        Assert.True(ChanceCheck.AtChance(0.149, 0.125, 1600));
        Assert.False(ChanceCheck.AtChance(0.151, 0.125, 1600));
    }

    [Fact]
    public void ARunOnRandomLabelsEndsWithTheChanceWarning()
    {
        // Labels drawn at random for images that carry no class: nothing to learn, so the last epoch sits at chance.
        var random = new Random(4);
        var labels = Enumerable.Range(0, 64).Select(_ => random.Next(4)).ToArray();
        var data = new ProtoPNet.Data.TensorDataset("noise", torch.rand(64, 3, 16, 16, generator: new Generator(11)), labels, ["c0", "c1", "c2", "c3"]);
        using var model = TestData.Model(4);
        var warnings = new List<string>();
        ProtoPNetTrainer.Train(model, data, null, new TrainingOptions { Phases = [TrainingPhase.Warm(1)], BatchSize = 16, Seed = 1 },
            new TrainingCallbacks { Warning = warnings.Add });
        Assert.Contains(warnings, w => w.StartsWith("Training ended at chance", StringComparison.Ordinal));
    }
}
