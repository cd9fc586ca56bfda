using ProtoPNet.Data;
using ProtoPNet.Explanation;
using ProtoPNet.Interpretability;
using ProtoPNet.LastLayer;
using ProtoPNet.Model;
using ProtoPNet.Persistence;
using ProtoPNet.Projection;
using ProtoPNet.Training;
using ProtoPNet.Tests.Interpretability;
using TorchSharp;
using Xunit;
using ProtoPNet.Evaluation;

namespace ProtoPNet.Tests;

/// <summary>
/// Guards the rule of docs/performance.md, "Object lifetimes": outside building a module, Core makes no TorchSharp tensor
/// while no dispose scope is open on its thread. A tensor made outside a scope that nothing else holds (a temporary such
/// as the <c>detach()</c> in <c>t.detach().clone()</c>) can be finalized, and its native tensor freed, by the finalizer
/// thread while libtorch still reads it: the host's crash of issue 28 ("segfault at 3200 ip 3200", a call through a freed
/// object's table). TorchSharp counts such tensors per thread; each stage here runs on the test thread and must count none.
/// Before the fix: training 940, push 191, last layer 98–113, testing 10, interpretability 1,000 per 1,000 images.
/// </summary>
public sealed class TensorLifetimeTests : IClassFixture<HandSetFixture>
{
    private readonly HandSetFixture fixture;

    public TensorLifetimeTests(HandSetFixture fixture) => this.fixture = fixture;

    /// <summary>Tensors the calling thread made outside any dispose scope while <paramref name="work"/> ran.</summary>
    private static long MadeOutsideAScope(Action work)
    {
        var statistics = DisposeScopeManager.Statistics;
        statistics.Reset();
        work();
        return statistics.CreatedOutsideScopeCount;
    }

    private ProtoPNetModel NewModel(int seed = 2) => TestData.Model(2, imageSize: HandSetFixture.Size, seed: seed);

    /// <summary>Building a model makes its parameters and buffers outside a scope (modules own them): the baseline for
    /// stages that load a model (resume, import).</summary>
    private long ConstructionCount() => MadeOutsideAScope(() => NewModel().Dispose());

    [Fact]
    public void TrainingWithValidationCheckpointsAndResumeMakesNoTensorOutsideAScope()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ptpn-lifetime-" + Guid.NewGuid().ToString("N"));
        try
        {
            var data = fixture.Dataset;
            var validation = new SubsetDataset(data, [0, 1, 12, 13], "Validation");
            var options = new TrainingOptions
            {
                Phases = [TrainingPhase.Warm(1), TrainingPhase.Joint(2)], BatchSize = 8, Seed = 3, CheckpointDirectory = directory,
            };
            using var model = NewModel();
            Assert.Equal(0, MadeOutsideAScope(() => ProtoPNetTrainer.Train(model, data, validation, options)));

            // Resuming builds the checkpoint's model (its parameters and buffers) and nothing else outside a scope.
            long construction = ConstructionCount();
            using var resumed = NewModel();
            var more = options with { Phases = [TrainingPhase.Warm(1), TrainingPhase.Joint(3)], Resume = true };
            Assert.Equal(construction, MadeOutsideAScope(() => ProtoPNetTrainer.Train(resumed, data, validation, more)));
        }
        finally
        {
            try { Directory.Delete(directory, true); } catch (IOException) { }
        }
    }

    [Fact]
    public void PushAndEveryLastLayerMethodMakeNoTensorOutsideAScope()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ptpn-lifetime-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var model = NewModel();
            var data = fixture.Dataset;
            Assert.Equal(0, MadeOutsideAScope(() => PrototypePush.Push(model, data,
                new PushOptions { BatchSize = 7, ComparisonDataset = data, OutputDirectory = directory })));
            Assert.Equal(0, MadeOutsideAScope(() => PrototypePush.Push(model, data, new PushOptions { Search = PushSearch.Shortlist })));
            foreach (var method in Enum.GetValues<LastLayerMethod>())
                Assert.Equal(0, MadeOutsideAScope(() => LastLayerOptimizer.Optimize(model, data,
                    new LastLayerOptions { Method = method, Passes = 2, MaxIterations = 50, Seed = 1 })));
        }
        finally
        {
            try { Directory.Delete(directory, true); } catch (IOException) { }
        }
    }

    [Fact]
    public void TestingExplainingAndPruningMakeNoTensorOutsideAScope()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ptpn-lifetime-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var model = NewModel();
            using var other = NewModel(seed: 5);
            var data = fixture.Dataset;
            PrototypePush.Push(model, data);
            var ensemble = new ProtoPNetEnsemble([model, other]);
            Assert.Equal(0, MadeOutsideAScope(() => ModelEvaluator.Evaluate(model, data)));
            Assert.Equal(0, MadeOutsideAScope(() => ModelEvaluator.Evaluate(ensemble, data)));
            // Files (decoded on pool threads) and data set items, with heat maps and scoring sheets written.
            var sources = new[] { new ExplanationSource(data.SourceOf(0)), ExplanationSource.FromDataset(data, 13) };
            var explainer = new Explainer(model, new ExplanationOptions { Top = 2, OutputDirectory = directory });
            Assert.Equal(0, MadeOutsideAScope(() => explainer.Explain(sources)));
            Assert.Equal(0, MadeOutsideAScope(() => new Explainer(ensemble, new ExplanationOptions { Top = 0 }).Explain(sources)));
            Assert.Equal(0, MadeOutsideAScope(() => NearestPatches.Find(model, data, 3, [0, 1])));
            Assert.Equal(0, MadeOutsideAScope(() => PrototypePruning.Evaluate(model, data, 3, 2)));
            Assert.Equal(0, MadeOutsideAScope(() => PrototypePruning.AfterPush(model, data, new Dictionary<int, int>(), 3, 2)));
            Assert.Equal(0, MadeOutsideAScope(() => PrototypeUsageMeter.Measure(ensemble, data)));
            Assert.Equal(0, MadeOutsideAScope(() => NearestPatches.Find(model, data, 3, [0, 1], boxMethod: BoxMethod.Percentile)));
            Assert.Equal(0, MadeOutsideAScope(() => PrototypeGallery.Write(model, Path.Combine(directory, "gallery"))));
            Assert.Equal(0, MadeOutsideAScope(() => PrototypePruning.Remove(model, [0], 3, 2)));
            Assert.Equal(3, model.PrototypeCount);
            Assert.Equal(0, MadeOutsideAScope(() => ModelEvaluator.Evaluate(model, data)));
        }
        finally
        {
            try { Directory.Delete(directory, true); } catch (IOException) { }
        }
    }

    [Fact]
    public void InterpretabilityMetricsMakeNoTensorOutsideAScope()
    {
        var data = fixture.Dataset;
        var options = new InterpretabilityOptions
        {
            Metrics = Enum.GetValues<InterpretabilityMetricKind>(), Parts = PartAnnotations.FromCsv(fixture.PartsPath, data), BatchSize = 10, Steps = 20,
        };
        Assert.Equal(0, MadeOutsideAScope(() => InterpretabilityMeter.Measure(fixture.Model, new SubsetDataset(data, [0, 1, 12, 13], "Few"), options)));
    }

    [Fact]
    public void SavingMakesNoTensorAndLoadingOnlyTheModelsOwn()
    {
        var file = Path.Combine(Path.GetTempPath(), "ptpn-lifetime-" + Guid.NewGuid().ToString("N") + ".ptpn");
        try
        {
            using var model = NewModel();
            Assert.Equal(0, MadeOutsideAScope(() => ModelFile.Save(model, file)));
            long construction = ConstructionCount();
            Assert.Equal(construction, MadeOutsideAScope(() => ModelFile.Load(file).Dispose()));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
