namespace ProtoPNet.Explanation;

/// <summary>
/// One piece of evidence for one image: "this part of the image (Box) looks like that prototype (PrototypeImage,
/// PrototypeBox) with Similarity; times Weight that adds Contribution points to the class". Every property is a
/// scalar so that Export-Csv writes it as it is. The names up to PrototypeBoxHeight are fixed (docs/architecture.md, "Fixed output property names").
/// </summary>
public sealed class ExplanationRow
{
    /// <summary>Full path of the input image (dataset items: the dataset's source string).</summary>
    public string ImagePath { get; init; } = "";
    public string PredictedClass { get; init; } = "";
    /// <summary>Softmax probability of <see cref="PredictedClass"/>.</summary>
    public double Probability { get; init; }
    /// <summary>Logit of <see cref="PredictedClass"/>.</summary>
    public double Logit { get; init; }
    /// <summary>The label when the input came from a dataset; otherwise empty.</summary>
    public string TrueClass { get; init; } = "";
    /// <summary>1 = largest contribution (with -Nearest: highest similarity).</summary>
    public int Rank { get; init; }
    /// <summary>The model the prototype belongs to (ensembles: the member's name).</summary>
    public string Model { get; init; } = "";
    /// <summary>The prototype's index within its model.</summary>
    public int PrototypeIndex { get; init; }
    public string PrototypeClass { get; init; } = "";
    /// <summary>Similarity of the prototype to its nearest patch of this image.</summary>
    public double Similarity { get; init; }
    /// <summary>Squared L2 distance between the prototype and that patch.</summary>
    public double Distance { get; init; }
    /// <summary>Last-layer weight from the prototype to <see cref="ExplainedClass"/> (the predicted class unless -Class).</summary>
    public double Weight { get; init; }
    /// <summary>Similarity × Weight; over all prototypes these add up to <see cref="ExplainedLogit"/>.</summary>
    public double Contribution { get; init; }
    /// <summary>Where the prototype matched, in the input image's own pixels: by BoxMethod, the best patch's receptive window (default) or the paper's 95th-percentile box of the upsampled activation map.</summary>
    public int BoxX { get; init; }
    public int BoxY { get; init; }
    public int BoxWidth { get; init; }
    public int BoxHeight { get; init; }
    /// <summary>The training image the prototype was projected onto; empty before push.</summary>
    public string PrototypeImage { get; init; } = "";
    public int? PrototypeBoxX { get; init; }
    public int? PrototypeBoxY { get; init; }
    public int? PrototypeBoxWidth { get; init; }
    public int? PrototypeBoxHeight { get; init; }

    // Beyond the fixed names.
    /// <summary>
    /// The image's index (0-based), to group rows per image: for data set items their index in the data set (with
    /// -Index or -ShardIndex too, so shard outputs merge by it); for files the position in the input.
    /// </summary>
    public int ImageIndex { get; init; }
    /// <summary>The class whose logit the contributions add up to: the predicted class, or the one given with -Class.</summary>
    public string ExplainedClass { get; init; } = "";
    public double ExplainedLogit { get; init; }
    /// <summary>The latent patch nearest to the prototype (the centre of its receptive field).</summary>
    public int LatentRow { get; init; }
    public int LatentColumn { get; init; }
    /// <summary>
    /// Side of the window of the input that the nearest latent patch sees, in the input image's pixels (horizontally).
    /// A box is only as local as this: with image-wide receptive fields it does not point at a part.
    /// </summary>
    public int ReceptiveField { get; init; }
    /// <summary>That window (clipped to the image), in the input image's own pixels.</summary>
    public int ReceptiveFieldX { get; init; }
    public int ReceptiveFieldY { get; init; }
    public int ReceptiveFieldWidth { get; init; }
    public int ReceptiveFieldHeight { get; init; }
    /// <summary>The HTML scoring sheet written for this image (with -OutputDirectory); otherwise empty.</summary>
    public string ScoringSheet { get; init; } = "";
    /// <summary>What BoxX… and PrototypeBoxX… are: "ReceptiveField" (the best patch's input window) or "Percentile" (the paper's box).</summary>
    public string BoxMethod { get; init; } = "";

    /// <summary>Which member of an ensemble the prototype belongs to (0 for a single model).</summary>
    internal int MemberIndex { get; init; }
}
