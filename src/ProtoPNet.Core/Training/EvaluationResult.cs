namespace ProtoPNet.Training;

/// <summary>Top-1 / top-5 accuracy, per-class accuracy and the confusion matrix (rows: true class, columns: predicted).</summary>
public sealed class EvaluationResult
{
    public string Model { get; init; } = "";
    public string Dataset { get; init; } = "";
    public double Accuracy { get; init; }
    public double Top5Accuracy { get; init; }
    public int Count { get; init; }
    public int Skipped { get; init; }
    public IReadOnlyList<string> ClassNames { get; init; } = [];
    public IReadOnlyList<ClassAccuracy> PerClass { get; init; } = [];
    public int[,] Confusion { get; init; } = new int[0, 0];
    public double Seconds { get; init; }
    public double ImagesPerSecond { get; init; }
}
