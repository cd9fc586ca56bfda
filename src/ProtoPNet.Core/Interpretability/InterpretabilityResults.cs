namespace ProtoPNet.Interpretability;

/// <summary>The interpretability metrics <c>Measure-ProtoPNetInterpretability</c> computes.</summary>
public enum InterpretabilityMetricKind
{
    PointingGame,
    Consistency,
    Stability,
    Deletion,
    Insertion,
}

/// <summary>
/// One metric's result: its value, the chance or reference level beside it, and what it was computed on. Every
/// property is a number or a string, so <c>Export-Csv</c> writes the object as it is.
/// </summary>
public sealed class InterpretabilityMetric
{
    public string Model { get; init; } = "";
    public string Dataset { get; init; } = "";
    /// <summary>PointingGame, Consistency, Stability, Deletion or Insertion.</summary>
    public string Metric { get; init; } = "";
    /// <summary>PointingGame: share of images (0–1). Consistency, Stability: percent (0–100). Deletion, Insertion: AUC (0–1).</summary>
    public double Value { get; init; }
    /// <summary>The same metric for a box at a random place (pointing, consistency, stability) or a random pixel order (deletion, insertion).</summary>
    public double? Chance { get; init; }
    /// <summary>What <see cref="Chance"/> is.</summary>
    public string ChanceMeaning { get; init; } = "";
    /// <summary>Images the value is computed on (with parts, for the part metrics).</summary>
    public int Images { get; init; }
    /// <summary>Prototypes the value is computed on (consistency, stability: those whose class has annotated images).</summary>
    public int Prototypes { get; init; }
    public double Seconds { get; init; }
    /// <summary>Images of the data set read per second by this metric's pass (all images, with or without parts).</summary>
    public double ImagesPerSecond { get; init; }
    /// <summary>PointingGame: the box method. Consistency, Stability: the box side in input pixels.</summary>
    public string Box { get; init; } = "";
    /// <summary>Deletion: what removed pixels become (NormalizedZero); Insertion: what the image starts from (Blur).</summary>
    public string Baseline { get; init; } = "";
    /// <summary>Deletion, Insertion: steps of the curve (it has Steps + 1 points).</summary>
    public int? Steps { get; init; }
    /// <summary>Deletion, Insertion: the mean curve, Steps + 1 probabilities separated by spaces.</summary>
    public string Curve { get; init; } = "";
    /// <summary>Deletion, Insertion: the random-order mean curve.</summary>
    public string ChanceCurve { get; init; } = "";
    /// <summary>PointingGame: share of pushed prototypes (with parts on their source image) whose source box centre lies on a part.</summary>
    public double? PrototypesOnPart { get; init; }
    /// <summary>Chance of <see cref="PrototypesOnPart"/>: a box of the same size at a random place in the source image.</summary>
    public double? PrototypesOnPartChance { get; init; }
    /// <summary>
    /// PointingGame: of the positive own-class last-layer weight of those pushed prototypes, the share carried by the ones
    /// on a part — whether the prototypes that decide are the parts.
    /// </summary>
    public double? PrototypesOnPartWeightShare { get; init; }
    /// <summary>Pushed prototypes whose source image has parts.</summary>
    public int? PushedPrototypes { get; init; }
    /// <summary>Where the part annotations came from.</summary>
    public string Parts { get; init; } = "";

    public override string ToString() => $"{Metric} {Value:0.####} (chance {Chance:0.####})";
}

/// <summary>One prototype's row of <c>-PerPrototype</c>: numbers and strings only, for Export-Csv.</summary>
public sealed class PrototypeInterpretability
{
    public string Model { get; init; } = "";
    public int Index { get; init; }
    public string Class { get; init; } = "";
    /// <summary>Images of the prototype's class with parts that consistency and stability used.</summary>
    public int Images { get; init; }
    /// <summary>The part its consistency box holds most often (max over k of f_{p,k}).</summary>
    public string PreferredPart { get; init; } = "";
    /// <summary>max over parts k of f_{p,k} = images where part k is in the box / images where part k is visible.</summary>
    public double? HitRate { get; init; }
    /// <summary>HitRate ≥ the consistency threshold (0.8).</summary>
    public bool? Consistent { get; init; }
    /// <summary>Percent of its images whose part vector is unchanged under noise.</summary>
    public double? Stability { get; init; }
    /// <summary>Its push source box centre lies on a part of its source image; empty when not pushed or no parts there.</summary>
    public bool? SourceOnPart { get; init; }
    /// <summary>The push source image, when pushed.</summary>
    public string SourceImage { get; init; } = "";

    /// <summary>Which member of an ensemble (0 for a single model).</summary>
    internal int MemberIndex { get; init; }
}

/// <summary>Everything one run measured.</summary>
public sealed class InterpretabilityReport
{
    public required IReadOnlyList<InterpretabilityMetric> Metrics { get; init; }
    public required IReadOnlyList<PrototypeInterpretability> Prototypes { get; init; }
    /// <summary>Items that could not be loaded (each once), with their errors.</summary>
    public required IReadOnlyList<Data.SkippedItem> Skipped { get; init; }
    /// <summary>Files written with an output directory (the HTML page first).</summary>
    public IReadOnlyList<string> Files { get; set; } = [];
}
