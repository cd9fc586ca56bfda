namespace ProtoPNet;

/// <summary>An <see cref="IProgress{T}"/> that calls its delegate at once, on the reporting thread (unlike
/// <see cref="Progress{T}"/>, which posts to a synchronization context).</summary>
public sealed class ProgressCallback(Action<StageProgress> report) : IProgress<StageProgress>
{
    public void Report(StageProgress value) => report(value);
}
