using ProtoPNet.Data;

namespace ProtoPNet.Projection;

public sealed record PushOptions
{
    /// <summary>The authors' push batch size.</summary>
    public int BatchSize { get; init; } = 75;
    /// <summary>When set, each prototype's source image with its box, the crop and the self-activation overlay are written here.</summary>
    public string? OutputDirectory { get; init; }
    /// <summary>Images whose predictions are compared before and after the push.</summary>
    public ImageDataset? ComparisonDataset { get; init; }
    /// <summary>Exact (default), or a bfloat16 shortlist followed by the exact search over the shortlisted images.</summary>
    public PushSearch Search { get; init; } = PushSearch.Exact;
}
