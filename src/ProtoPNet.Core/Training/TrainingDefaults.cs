using ProtoPNet.Model;

namespace ProtoPNet.Training;

/// <summary>
/// The stage-1 settings a run uses for what the user did not give. Two recipes, chosen by whether the backbone holds
/// learned weights (<see cref="ProtoPNetModel.BackboneIsTrained"/>): the authors' settings, made for ImageNet-pretrained
/// backbones, and a from-scratch recipe for randomly initialised ones, measured on a planted-part data set and on
/// Fashion-MNIST (docs/algorithm.md, "Training from scratch").
/// </summary>
public sealed record TrainingDefaults
{
    public required string Name { get; init; }
    /// <summary>Epochs of backbone pretraining as a plain classifier (<see cref="TrainingPhase.Backbone"/>), before the warm epochs.</summary>
    public int BackboneEpochs { get; init; }
    public double BackbonePhaseLearningRate { get; init; } = 3e-3;
    public int WarmEpochs { get; init; }
    public int Epochs { get; init; }
    public int BatchSize { get; init; }
    public double BackboneLearningRate { get; init; }
    public double AddOnLearningRate { get; init; } = 3e-3;
    public double PrototypeLearningRate { get; init; } = 3e-3;
    public int StepSize { get; init; }
    public double Gamma { get; init; } = 0.1;
    public double ClusterCoefficient { get; init; } = 0.8;
    public double SeparationCoefficient { get; init; } = -0.08;
    /// <summary>BatchNorm of the frozen backbone in warm epochs (see <see cref="Training.WarmBatchNorm"/>).</summary>
    public WarmBatchNorm WarmBatchNorm { get; init; } = WarmBatchNorm.Frozen;

    /// <summary>The authors' settings for an ImageNet-pretrained backbone: 5 warm epochs, then joint at 1e-4 with StepLR(5, 0.1), batch 80.</summary>
    public static TrainingDefaults Pretrained { get; } = new()
    {
        Name = "Pretrained",
        WarmEpochs = 5,
        Epochs = 10,
        BatchSize = 80,
        BackboneLearningRate = 1e-4,
        StepSize = 5,
    };

    /// <summary>
    /// A randomly initialised backbone: it first learns as a plain classifier's (global max pool + linear head, 3e-3), because
    /// the prototype layer's min-pool gives it a learning signal through one patch per prototype and image and a frozen
    /// random backbone gives the warm phase nothing to fit; then the authors' warm and joint phases on learned features.
    /// </summary>
    public static TrainingDefaults FromScratch { get; } = new()
    {
        Name = "FromScratch",
        BackboneEpochs = 3,
        WarmEpochs = 10,
        Epochs = 4,
        BatchSize = 32,
        BackboneLearningRate = 1e-3,
        StepSize = 100,
    };

    public static TrainingDefaults For(ProtoPNetModel model) => model.BackboneIsTrained ? Pretrained : FromScratch;
}
