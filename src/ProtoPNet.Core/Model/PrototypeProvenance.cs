namespace ProtoPNet.Model;

/// <summary>
/// Where a prototype came from after push: the training image and latent patch it was projected onto,
/// the patch's box in that image's original pixels, and how far push moved it.
/// </summary>
public sealed record PrototypeProvenance
{
    public required string SourceImage { get; init; }
    public int SourceIndex { get; init; } = -1;
    public int LatentRow { get; init; }
    public int LatentColumn { get; init; }
    public int BoxX { get; init; }
    public int BoxY { get; init; }
    public int BoxWidth { get; init; }
    public int BoxHeight { get; init; }
    /// <summary>Squared L2 distance between the prototype before push and the patch it was projected onto.</summary>
    public double Distance { get; init; }
}
