using ProtoPNet.Benchmarks;
using ProtoPNet.Training;
using Xunit;

namespace ProtoPNet.Tests;

public class PlainClassifierTests
{
    [Fact]
    public void Baseline_learns_a_separable_task_and_keeps_the_best_validation_epoch()
    {
        var train = TestData.Images(96, 3, 16, seed: 1);
        var validation = TestData.Images(30, 3, 16, seed: 2);
        using var plain = PlainClassifier.Train("smallcnn", 16, train, validation,
            new PlainClassifierOptions { Epochs = 4, BatchSize = 16, LearningRate = 3e-3, HeadLearningRate = 3e-3, Seed = 1 });
        Assert.Equal(4, plain.Epochs.Count);
        Assert.All(plain.Epochs, e => Assert.Equal(96, e.Images));
        double best = plain.Epochs.Max(e => e.ValidationAccuracy!.Value);
        Assert.True(best >= 0.9, $"best validation accuracy {best:P0}: the bright square gives the class away");
        // The kept weights are those of the best validation epoch, not of the last one.
        Assert.Equal(best, plain.Accuracy(validation), 6);
    }

    [Fact]
    public void Time_budget_stops_between_batches()
    {
        var train = TestData.Images(64, 2, 16, seed: 3);
        using var plain = PlainClassifier.Train("smallcnn", 16, train, null,
            new PlainClassifierOptions { Epochs = 1000, MaxSeconds = 1e-9, BatchSize = 8 });
        var only = Assert.Single(plain.Epochs);
        Assert.Equal(8, only.Images);   // one batch, then the budget is spent
        Assert.Null(only.ValidationAccuracy);
    }

    [Fact]
    public void Step_benchmark_times_both_steps_on_the_configuration_asked_for()
    {
        var timing = TrainingStepBenchmark.Run("smallcnn", 16, batchSize: 4, classCount: 3, prototypesPerClass: 2, repetitions: 3, minimumSeconds: 0);
        Assert.Equal((3, 6, 4, 16), (timing.Rounds, timing.PrototypeCount, timing.BatchSize, timing.ImageSize));
        Assert.True(timing.ProtoPNetMilliseconds > 0 && timing.PlainMilliseconds > 0);
        Assert.Equal(timing.ProtoPNetMilliseconds / timing.PlainMilliseconds * 100 - 100, timing.OverheadPercent, 9);
    }
}
