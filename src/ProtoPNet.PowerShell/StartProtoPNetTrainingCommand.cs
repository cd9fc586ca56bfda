using System.Management.Automation;
using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Training;
using TorchSharp;

namespace ProtoPNet.PowerShell;

/// <summary>Stage 1: warm epochs (backbone frozen) then joint epochs, one result object per epoch.</summary>
[Cmdlet(VerbsLifecycle.Start, "ProtoPNetTraining")]
[OutputType(typeof(TrainingEpochResult), typeof(ProtoPNetModel))]
public sealed class StartProtoPNetTrainingCommand : ProtoPNetCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public ProtoPNetModel Model { get; set; } = null!;

    [Parameter(Mandatory = true, Position = 0)]
    public ImageDataset Dataset { get; set; } = null!;

    /// <summary>Model selection: the epoch with the best accuracy here is kept. Never pass the test set.</summary>
    [Parameter] public ImageDataset? ValidationDataset { get; set; }

    [Parameter] [ValidateRange(0, 100000)] public int WarmEpochs { get; set; } = 5;

    /// <summary>Augment training images online with the authors' transforms (rotate ±15°, skew 0.2, shear ±10°, then a left-right flip with p = 0.5), seeded per epoch and image.</summary>
    [Parameter] public SwitchParameter Augment { get; set; }

    /// <summary>Joint epochs (backbone, add-on and prototypes learn together).</summary>
    [Parameter] [ValidateRange(0, 100000)] public int Epochs { get; set; } = 10;

    [Parameter] [ValidateRange(1, 1 << 20)] public int BatchSize { get; set; } = 80;

    [Parameter] public double BackboneLearningRate { get; set; } = 1e-4;
    [Parameter] public double AddOnLearningRate { get; set; } = 3e-3;
    [Parameter] public double PrototypeLearningRate { get; set; } = 3e-3;
    /// <summary>0 (default, as the authors' code): the last layer stays fixed in stage 1 and is optimized in stage 3.</summary>
    [Parameter] public double LastLayerLearningRate { get; set; }
    /// <summary>Weight decay of the backbone and add-on groups.</summary>
    [Parameter] public double WeightDecay { get; set; } = 1e-3;
    /// <summary>StepLR of the joint phase: learning rates × Gamma every StepSize joint epochs.</summary>
    [Parameter] [ValidateRange(1, 100000)] public int StepSize { get; set; } = 5;
    [Parameter] public double Gamma { get; set; } = 0.1;

    [Parameter] public double CrossEntropyCoefficient { get; set; } = 1.0;
    [Parameter] public double ClusterCoefficient { get; set; } = 0.8;
    [Parameter] public double SeparationCoefficient { get; set; } = -0.08;
    [Parameter] public double L1Coefficient { get; set; } = 1e-4;

    [Parameter] public int? Seed { get; set; }
    [Parameter] [ValidateRange(1, 1024)] public int? Threads { get; set; }

    [Parameter] [Alias("CheckpointPath")] public string? CheckpointDirectory { get; set; }
    [Parameter] public SwitchParameter Resume { get; set; }

    /// <summary>Recompute the frozen backbone's output every warm epoch instead of caching it.</summary>
    [Parameter] public SwitchParameter NoFeatureCache { get; set; }

    /// <summary>Emit the trained model; the epoch results then go to the information stream (tag TrainingEpoch).</summary>
    [Parameter] public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        if (Resume && CheckpointDirectory is null)
            ThrowTerminating("ResumeNeedsCheckpointDirectory", ErrorKind.InvalidArgument, "-Resume needs -CheckpointDirectory.");
        var phases = new List<TrainingPhase>();
        if (WarmEpochs > 0)
        {
            var warm = TrainingPhase.Warm(WarmEpochs, AddOnLearningRate, PrototypeLearningRate);
            phases.Add(warm with { Groups = warm.Groups.Select(g => g.Group == ParameterGroup.AddOn ? g with { WeightDecay = WeightDecay } : g).ToArray() });
        }
        if (Epochs > 0)
        {
            var joint = TrainingPhase.Joint(Epochs, BackboneLearningRate, AddOnLearningRate, PrototypeLearningRate, LastLayerLearningRate, StepSize, Gamma);
            phases.Add(joint with
            {
                Groups = joint.Groups.Select(g => g.Group is ParameterGroup.Backbone or ParameterGroup.AddOn ? g with { WeightDecay = WeightDecay } : g).ToArray(),
            });
        }
        var options = new TrainingOptions
        {
            Phases = phases,
            BatchSize = BatchSize,
            Coefficients = new LossCoefficients { CrossEntropy = CrossEntropyCoefficient, Cluster = ClusterCoefficient, Separation = SeparationCoefficient, L1 = L1Coefficient },
            Seed = Seed,
            CheckpointDirectory = CheckpointDirectory is null ? null : ResolveNewPath(CheckpointDirectory),
            Resume = Resume,
            FeatureCacheBytes = NoFeatureCache ? 0 : new TrainingOptions { Phases = phases }.FeatureCacheBytes,
            Augmentation = Augment ? ImageAugmentation.Authors : null,
        };
        var progress = new ProgressReporter(this, $"Training {Model.Name}");
        var callbacks = new TrainingCallbacks
        {
            EpochCompleted = result =>
            {
                if (PassThru) WriteInformation(result, ["TrainingEpoch"]);
                else WriteObject(result);
                WriteVerbose($"Epoch {result.Epoch} ({result.Phase}): loss {result.Loss:G4}, train accuracy {result.TrainAccuracy:P2}" +
                             (result.ValidationAccuracy is double v ? $", validation accuracy {v:P2}" : "") + $", {result.ImagesPerSecond:F0} images/s");
            },
            Progress = p => progress.Report(
                p.Activity == "Training"
                    ? $"Epoch {p.Epoch}/{p.TotalEpochs} ({p.Phase}), batch {p.Batch}/{p.BatchCount}, {p.ImagesPerSecond:F0} images/s"
                    : $"Epoch {p.Epoch}/{p.TotalEpochs} ({p.Phase}): {p.Activity} {p.Batch}/{p.BatchCount}",
                p.Batch, p.BatchCount, p.Remaining),
            Warning = WriteWarning,
            Verbose = WriteVerbose,
        };
        int previousThreads = torch.get_num_threads();
        if (Threads is int t) torch.set_num_threads(t);
        TrainingSummary summary;
        try
        {
            summary = Run(() => ProtoPNetTrainer.Train(Model, Dataset, ValidationDataset, options, callbacks, Cancel));
        }
        finally
        {
            if (Threads is not null) torch.set_num_threads(previousThreads);
            progress.Complete();
        }
        foreach (var skipped in summary.Skipped.DistinctBy(s => s.Index))
            WriteWarning($"Skipped '{skipped.Source}': {skipped.Error.Message}");
        if (summary.RestoredBest)
            WriteWarning($"Kept the weights of epoch {summary.BestEpoch}, the best on the validation set ({summary.BestValidationAccuracy:P2}); later epochs were discarded.");
        else if (summary.BestEpoch is int best)
            WriteVerbose($"The last epoch ({best}) is the best on the validation set ({summary.BestValidationAccuracy:P2}).");
        if (PassThru) WriteObject(Model);
    }
}
