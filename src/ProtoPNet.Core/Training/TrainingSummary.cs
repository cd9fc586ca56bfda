using ProtoPNet.Data;

namespace ProtoPNet.Training;

/// <summary>What a stage-1 run did.</summary>
public sealed class TrainingSummary
{
    public IReadOnlyList<TrainingEpochResult> Epochs { get; init; } = [];
    public int? BestEpoch { get; init; }
    public double? BestValidationAccuracy { get; init; }
    /// <summary>True when the model was set back to the weights of <see cref="BestEpoch"/> at the end.</summary>
    public bool RestoredBest { get; init; }
    public int ResumedFromEpoch { get; init; }
    public int Seed { get; init; }
    public IReadOnlyList<SkippedItem> Skipped { get; init; } = [];
}
