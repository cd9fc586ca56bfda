namespace ProtoPNet.Training;

/// <summary>Callbacks of a run. All are called synchronously on the thread that called <see cref="ProtoPNetTrainer.Train"/>.</summary>
public sealed class TrainingCallbacks
{
    public Action<TrainingEpochResult>? EpochCompleted { get; init; }

    /// <summary>
    /// Progress inside an epoch, with <see cref="StageProgress.Epoch"/>, <see cref="StageProgress.TotalEpochs"/> and
    /// <see cref="StageProgress.Phase"/> set. Activity "Training": Done/Total count the epoch's batches, with the images
    /// per second and the time left over this and the remaining epochs; other activities (the frozen-backbone cache,
    /// "Validating") count images.
    /// </summary>
    public IProgress<StageProgress>? Progress { get; init; }

    public Action<string>? Warning { get; init; }
    public Action<string>? Verbose { get; init; }
}
