using ProtoPNet.Model;

namespace ProtoPNet.Training;

/// <summary>How one parameter group trains in a phase.</summary>
public sealed record GroupSettings(ParameterGroup Group, double LearningRate, double WeightDecay = 0);

/// <summary>
/// One stage-1 phase as data: which groups train, with which Adam learning rates and weight decays, and an
/// optional StepLR schedule (lr × Gamma every StepSize epochs of this phase). Groups not listed are frozen;
/// a frozen backbone also keeps its BatchNorm statistics (eval mode).
/// </summary>
public sealed record TrainingPhase
{
    public required string Name { get; init; }
    public required int Epochs { get; init; }
    public required IReadOnlyList<GroupSettings> Groups { get; init; }
    public int? StepSize { get; init; }
    public double Gamma { get; init; } = 0.1;

    /// <summary>
    /// The phase trains the backbone through the auxiliary pooled head alone (global max pool + linear, cross-entropy):
    /// a plain classifier's training that gives a randomly initialised backbone the learned features the ProtoPNet
    /// phases assume. The ProtoPNet head does not take part and validation is skipped.
    /// </summary>
    public bool PooledHead { get; init; }

    public bool Trains(ParameterGroup group) => Groups.Any(g => g.Group == group);

    /// <summary>Backbone pretraining as a plain classifier on the training data (only for a backbone that starts from random weights).</summary>
    public static TrainingPhase Backbone(int epochs, double backboneLr = 3e-3, double weightDecay = 1e-3) => new()
    {
        Name = "Backbone",
        Epochs = epochs,
        Groups = [new(ParameterGroup.Backbone, backboneLr, weightDecay)],
        PooledHead = true,
    };

    /// <summary>Learning-rate multiplier for the 0-based epoch of this phase.</summary>
    public double LearningRateFactor(int phaseEpoch) => StepSize is int s && s > 0 ? Math.Pow(Gamma, phaseEpoch / s) : 1.0;

    /// <summary>The authors' warm phase: backbone frozen; add-on 3e-3 (weight decay 1e-3), prototypes 3e-3.</summary>
    public static TrainingPhase Warm(int epochs = 5, double addOnLr = 3e-3, double prototypeLr = 3e-3) => new()
    {
        Name = "Warm",
        Epochs = epochs,
        Groups = [new(ParameterGroup.AddOn, addOnLr, 1e-3), new(ParameterGroup.Prototypes, prototypeLr)],
    };

    /// <summary>
    /// The authors' joint phase: backbone 1e-4 and add-on 3e-3 (both weight decay 1e-3), prototypes 3e-3, StepLR(5, 0.1).
    /// The authors' joint optimizer does not hold the last layer, so it stays fixed unless <paramref name="lastLayerLr"/> &gt; 0.
    /// </summary>
    public static TrainingPhase Joint(int epochs, double backboneLr = 1e-4, double addOnLr = 3e-3, double prototypeLr = 3e-3,
        double lastLayerLr = 0, int stepSize = 5, double gamma = 0.1)
    {
        var groups = new List<GroupSettings>
        {
            new(ParameterGroup.Backbone, backboneLr, 1e-3),
            new(ParameterGroup.AddOn, addOnLr, 1e-3),
            new(ParameterGroup.Prototypes, prototypeLr),
        };
        if (lastLayerLr > 0) groups.Add(new(ParameterGroup.LastLayer, lastLayerLr));
        return new TrainingPhase { Name = "Joint", Epochs = epochs, Groups = groups, StepSize = stepSize, Gamma = gamma };
    }
}

/// <summary>Everything a stage-1 run needs besides the model and the data.</summary>
public sealed record TrainingOptions
{
    public required IReadOnlyList<TrainingPhase> Phases { get; init; }
    public int BatchSize { get; init; } = 80;
    public LossCoefficients Coefficients { get; init; } = LossCoefficients.Default;
    /// <summary>Seeds shuffling and torch's generator. Null: a fresh seed, recorded in the checkpoint.</summary>
    public int? Seed { get; init; }
    public string? CheckpointDirectory { get; init; }
    public bool Resume { get; init; }
    /// <summary>
    /// While the backbone is frozen (and the data is not augmented online: datasets load deterministically),
    /// its output is computed once and reused for every frozen epoch when it fits in this many bytes.
    /// </summary>
    public long FeatureCacheBytes { get; init; } = 2L << 30;
    /// <summary>BatchNorm of the backbone in phases that freeze it; <see cref="Training.WarmBatchNorm.Train"/> turns the feature cache off.</summary>
    public WarmBatchNorm WarmBatchNorm { get; init; } = WarmBatchNorm.Frozen;
    /// <summary>
    /// Online augmentation of every training image read (the authors' transforms, one at random, then a random flip);
    /// null for none. Seeded by (seed, epoch, item), so runs and resumed runs repeat exactly. Disables the feature cache.
    /// </summary>
    public Data.ImageAugmentation? Augmentation { get; init; }
    public int EvaluationBatchSize { get; init; } = 100;
    /// <summary>
    /// The backbone's arithmetic during the run (its epochs, feature cache and validation); the model keeps float32 weights
    /// and is float32 again afterwards. <see cref="ComputePrecision.BFloat16"/> trains faster on CPUs with native bfloat16.
    /// </summary>
    public ComputePrecision Precision { get; init; } = ComputePrecision.Float32;
}
