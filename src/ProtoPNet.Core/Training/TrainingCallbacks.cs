namespace ProtoPNet.Training;

/// <summary>Callbacks of a run. All are called synchronously on the thread that called <see cref="ProtoPNetTrainer.Train"/>.</summary>
public sealed class TrainingCallbacks
{
    public Action<TrainingEpochResult>? EpochCompleted { get; init; }
    public Action<TrainingProgress>? Progress { get; init; }
    public Action<string>? Warning { get; init; }
    public Action<string>? Verbose { get; init; }
}
