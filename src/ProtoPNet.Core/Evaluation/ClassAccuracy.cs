namespace ProtoPNet.Evaluation;

/// <summary>Accuracy of one true class.</summary>
public sealed class ClassAccuracy
{
    public int ClassIndex { get; init; }
    public string Class { get; init; } = "";
    public int Count { get; init; }
    public int Correct { get; init; }
    /// <summary>NaN when the dataset has no image of this class.</summary>
    public double Accuracy { get; init; }
}
