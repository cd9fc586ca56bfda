namespace ProtoPNet.Training;

/// <summary>One finished stage-1 epoch. Loss terms are means over the epoch's batches (weighted by batch size).</summary>
public sealed class TrainingEpochResult
{
    public int Epoch { get; init; }
    public string Phase { get; init; } = "";
    public double Loss { get; init; }
    public double CrossEntropy { get; init; }
    public double Cluster { get; init; }
    public double Separation { get; init; }
    public double L1 { get; init; }
    public double TrainAccuracy { get; init; }
    /// <summary>Null when no validation set was given.</summary>
    public double? ValidationAccuracy { get; init; }
    public double Seconds { get; init; }
    public double ImagesPerSecond { get; init; }
    /// <summary>True when this epoch's model is the best so far on the validation set (the one kept at the end).</summary>
    public bool IsBest { get; init; }
    /// <summary>Whether the frozen backbone's output came from the cache (no backbone pass).</summary>
    public bool BackboneCached { get; init; }
}
