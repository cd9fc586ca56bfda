namespace ProtoPNet.Projection;

/// <summary>
/// The outcome of a push, with the paper's Theorem 2.1 made visible: how far each prototype moved and, given a
/// comparison dataset, how many of its images changed their prediction across the push.
/// </summary>
public sealed record PushResult
{
    public string Model { get; init; } = "";
    public string Dataset { get; init; } = "";
    public int PrototypeCount { get; init; }
    public int Pushed { get; init; }
    /// <summary>Prototypes that found no candidate (their class is absent from the push set) and were left unchanged.</summary>
    public IReadOnlyList<int> Unchanged { get; init; } = [];
    /// <summary>
    /// Distinct training patches the pushed prototypes landed on; fewer than <see cref="Pushed"/> when several prototypes
    /// of a class found the same nearest patch (<see cref="PrototypeMove.SamePatchAs"/>).
    /// </summary>
    public int DistinctPatches { get; init; }
    public double MeanDistance { get; init; }
    public double MedianDistance { get; init; }
    public double MaxDistance { get; init; }
    public IReadOnlyList<PrototypeMove> Prototypes { get; init; } = [];
    public int ImageCount { get; init; }
    public int Skipped { get; init; }
    public int? ComparisonCount { get; init; }
    public int? PredictionsChanged { get; init; }
    public double? AccuracyBefore { get; init; }
    public double? AccuracyAfter { get; init; }
    /// <summary>The search that ran: <see cref="PushSearch.Exact"/> also when a shortlist was asked for and <see cref="FromKeptFeatures"/>.</summary>
    public PushSearch Search { get; init; }
    /// <summary>
    /// Whether the scan started from the backbone features the model kept from training that ended with the backbone
    /// frozen (the same dataset object, the same backbone): only the add-on ran over the push set.
    /// </summary>
    public bool FromKeptFeatures { get; init; }
    /// <summary>With <see cref="PushSearch.Shortlist"/>: how many images the exact search ran over.</summary>
    public int? ShortlistCount { get; init; }
    public string? OutputDirectory { get; init; }
    public double Seconds { get; init; }
    public double RenderSeconds { get; init; }
    /// <summary>
    /// Prototypes removed after the push (indices before removal): by the pruning rule or merged into another prototype
    /// on the same patch (Invoke-PrototypePush without -NoPrune). Optimize the last layer next.
    /// </summary>
    public IReadOnlyList<int> Removed { get; init; } = [];
    /// <summary>Prototypes the model has after the push and its pruning.</summary>
    public int Kept { get; init; }
    public double SecondsPer1000Images => ImageCount == 0 ? 0 : Seconds * 1000.0 / ImageCount;
}
