namespace ProtoPNet;

/// <summary>
/// How far a long piece of Core work is: <paramref name="Done"/> of <paramref name="Total"/> units (images, iterations,
/// passes, batches) of <paramref name="Activity"/>. Every stage reports through an <see cref="IProgress{T}"/> of this
/// type, on the thread that does the work; training too, which fills the epoch fields below (docs/architecture.md).
/// </summary>
public readonly record struct StageProgress(int Done, int Total, string Activity = "")
{
    /// <summary>Training: the 1-based epoch the work belongs to (0 outside training).</summary>
    public int Epoch { get; init; }

    /// <summary>Training: the epochs of the whole run, over all phases.</summary>
    public int TotalEpochs { get; init; }

    /// <summary>Training: the name of the epoch's phase.</summary>
    public string? Phase { get; init; }

    /// <summary>Images per second so far, where the work measures it (0 where it does not).</summary>
    public double ImagesPerSecond { get; init; }

    /// <summary>The time the work still needs, where it estimates it.</summary>
    public TimeSpan? Remaining { get; init; }
}
