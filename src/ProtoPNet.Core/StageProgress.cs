namespace ProtoPNet;

/// <summary>
/// How far a long piece of Core work is: <paramref name="Done"/> of <paramref name="Total"/> units (images, iterations,
/// passes) of <paramref name="Activity"/>. Every stage reports through an <see cref="IProgress{T}"/> of this type,
/// on the thread that does the work.
/// </summary>
public readonly record struct StageProgress(int Done, int Total, string Activity = "");
