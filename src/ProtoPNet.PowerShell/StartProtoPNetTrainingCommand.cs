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

    /// <summary>
    /// Epochs that pretrain the backbone as a max-pooled linear classifier before the warm epochs.
    /// Default: 3 when the backbone starts from random weights (whatever -WarmEpochs and -Epochs say), 0 when it holds
    /// learned weights. -BackboneEpochs 0 turns them off.
    /// </summary>
    [Parameter] [ValidateRange(0, 100000)] public int? BackboneEpochs { get; set; }

    /// <summary>
    /// Epochs with the backbone frozen. Default: 5 (the authors') when the backbone holds learned weights, 10 when it starts
    /// from random weights (after the backbone epochs, which give the warm phase learned features to fit).
    /// </summary>
    [Parameter] [ValidateRange(0, 100000)] public int? WarmEpochs { get; set; }

    /// <summary>Augment training images online with the authors' transforms (rotate ±15°, skew 0.2, shear ±10°, then a left-right flip with p = 0.5), seeded per epoch and image.</summary>
    [Parameter] public SwitchParameter Augment { get; set; }

    /// <summary>Joint epochs (backbone, add-on and prototypes learn together). Default: 10 (pretrained backbone), 15 (from scratch).</summary>
    [Parameter] [ValidateRange(0, 100000)] public int? Epochs { get; set; }

    /// <summary>Default: 80 (the authors', pretrained backbone), 32 (from scratch).</summary>
    [Parameter] [ValidateRange(1, 1 << 20)] public int? BatchSize { get; set; }

    /// <summary>Default: 1e-4 (the authors', for an ImageNet-pretrained backbone), 3e-3 for a backbone that starts from random weights.</summary>
    [Parameter] public double? BackboneLearningRate { get; set; }
    [Parameter] public double? AddOnLearningRate { get; set; }
    [Parameter] public double? PrototypeLearningRate { get; set; }
    /// <summary>0 (default, as the authors' code): the last layer stays fixed in stage 1 and is optimized in stage 3.</summary>
    [Parameter] public double LastLayerLearningRate { get; set; }
    /// <summary>Weight decay of the backbone and add-on groups.</summary>
    [Parameter] public double WeightDecay { get; set; } = 1e-3;
    /// <summary>StepLR of the joint phase: learning rates × Gamma every StepSize joint epochs. Default: 5 (pretrained), 10 (from scratch).</summary>
    [Parameter] [ValidateRange(1, 100000)] public int? StepSize { get; set; }
    [Parameter] public double? Gamma { get; set; }

    [Parameter] public double CrossEntropyCoefficient { get; set; } = 1.0;
    [Parameter] public double? ClusterCoefficient { get; set; }
    [Parameter] public double? SeparationCoefficient { get; set; }
    [Parameter] public double L1Coefficient { get; set; } = 1e-4;

    [Parameter] public int? Seed { get; set; }
    [Parameter] [ValidateRange(1, 1024)] public int? Threads { get; set; }

    [Parameter] [Alias("CheckpointPath")] public string? CheckpointDirectory { get; set; }
    [Parameter] public SwitchParameter Resume { get; set; }

    /// <summary>
    /// BatchNorm of the frozen backbone in warm epochs: Frozen (eval mode, running statistics kept, features cached) or
    /// Train (the authors' code: batch statistics, running statistics follow the data, no feature cache). Default: the
    /// recipe's for this backbone (TrainingDefaults).
    /// </summary>
    [Parameter] public WarmBatchNorm? WarmBatchNorm { get; set; }

    /// <summary>
    /// The backbone's arithmetic while training: Float32 (default, the reference) or BFloat16 (convolutions in bfloat16
    /// from float32 master weights; faster on some CPUs with native bfloat16, such as AVX-512 BF16; README, Platform notes). The model stays float32.
    /// </summary>
    [Parameter] public ComputePrecision Precision { get; set; } = ComputePrecision.Float32;

    /// <summary>
    /// Recompute the frozen backbone's output every warm epoch instead of caching it. With the cache, a run that ends
    /// with the backbone frozen leaves it on the model: Invoke-PrototypePush over the same dataset then runs only the
    /// add-on over it (exact; PushResult.FromKeptFeatures), and later warm runs reuse it; training the backbone drops it.
    /// </summary>
    [Parameter] public SwitchParameter NoFeatureCache { get; set; }

    /// <summary>Emit the trained model; the epoch results then go to the information stream (tag TrainingEpoch).</summary>
    [Parameter] public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        if (Resume && CheckpointDirectory is null)
            ThrowTerminating("ResumeNeedsCheckpointDirectory", ErrorKind.InvalidArgument, "-Resume needs -CheckpointDirectory.");
        // What the user did not give comes from the recipe for this backbone: the authors' for learned weights, from-scratch otherwise.
        var defaults = TrainingDefaults.For(Model);
        WriteVerbose($"Training defaults: {defaults.Name} (the backbone {(Model.BackboneIsTrained ? "holds learned weights" : "starts from random weights")}).");
        var (recipe, schedule) = TrainingRecipe.Build(Model, new TrainingRequest
        {
            BackboneEpochs = BackboneEpochs, WarmEpochs = WarmEpochs, Epochs = Epochs, BatchSize = BatchSize,
            BackboneLearningRate = BackboneLearningRate, AddOnLearningRate = AddOnLearningRate, PrototypeLearningRate = PrototypeLearningRate,
            LastLayerLearningRate = LastLayerLearningRate, WeightDecay = WeightDecay, StepSize = StepSize, Gamma = Gamma,
            CrossEntropyCoefficient = CrossEntropyCoefficient, ClusterCoefficient = ClusterCoefficient, SeparationCoefficient = SeparationCoefficient,
            L1Coefficient = L1Coefficient, WarmBatchNorm = WarmBatchNorm,
        });
        WriteVerbose(schedule);
        var options = recipe with
        {
            Seed = Seed,
            CheckpointDirectory = CheckpointDirectory is null ? null : ResolveNewPath(CheckpointDirectory),
            Resume = Resume,
            FeatureCacheBytes = NoFeatureCache ? 0 : recipe.FeatureCacheBytes,
            Augmentation = Augment ? ImageAugmentation.Authors : null,
            Precision = Precision,
        };
        var progress = new ProgressReporter(this, $"Training {Model.Name}", status: ProgressStatus);
        var callbacks = new TrainingCallbacks
        {
            EpochCompleted = result =>
            {
                if (PassThru) WriteInformation(result, ["TrainingEpoch"]);
                else WriteObject(result);
                WriteVerbose($"Epoch {result.Epoch} ({result.Phase}): loss {result.Loss:G4}, train accuracy {result.TrainAccuracy:P2}" +
                             (result.ValidationAccuracy is double v ? $", validation accuracy {v:P2}" : "") + $", {result.ImagesPerSecond:F0} images/s");
            },
            Progress = progress,
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

    /// <summary>The progress bar's status line: batches while training, images while caching features or validating.</summary>
    private static string ProgressStatus(StageProgress p) => p.Activity == "Training"
        ? $"Epoch {p.Epoch}/{p.TotalEpochs} ({p.Phase}), batch {p.Done}/{p.Total}, {p.ImagesPerSecond:F0} images/s"
        : $"Epoch {p.Epoch}/{p.TotalEpochs} ({p.Phase}): {p.Activity} {p.Done}/{p.Total}";
}
