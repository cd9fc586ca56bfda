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
    /// <summary>
    /// The receptive window of the source patch (the input window it sees), in the source image's original pixels.
    /// Null in model files pushed before it was recorded.
    /// </summary>
    public int? WindowX { get; init; }
    public int? WindowY { get; init; }
    public int? WindowWidth { get; init; }
    public int? WindowHeight { get; init; }

    /// <summary>The source patch's box by <paramref name="method"/>: Box… (percentile) or Window… (null when not recorded).</summary>
    public Data.PixelBox? Box(BoxMethod method) => method switch
    {
        BoxMethod.Percentile => new Data.PixelBox(BoxX, BoxY, BoxWidth, BoxHeight),
        _ => WindowX is int x && WindowY is int y && WindowWidth is int w && WindowHeight is int h ? new Data.PixelBox(x, y, w, h) : null,
    };

    /// <summary>
    /// The box a picture of the source patch draws: <paramref name="method"/>'s, or the percentile box (and that method)
    /// when the file predates recorded receptive windows, so a caption can say which box it is.
    /// </summary>
    public (Data.PixelBox Box, BoxMethod Method) DrawnBox(BoxMethod method) =>
        Box(method) is Data.PixelBox box ? (box, method) : (Box(BoxMethod.Percentile)!.Value, BoxMethod.Percentile);
}
