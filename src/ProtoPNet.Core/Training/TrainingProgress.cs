namespace ProtoPNet.Training;

/// <summary>Progress inside an epoch, reported synchronously on the training thread.</summary>
public readonly record struct TrainingProgress(
    int Epoch, int TotalEpochs, string Phase, int Batch, int BatchCount, double ImagesPerSecond, TimeSpan? Remaining, string Activity);
