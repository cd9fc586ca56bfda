namespace ProtoPNet.Data;

/// <summary>
/// How an RGB image with values in [0, 1] becomes the backbone's input:
/// x' = (x · Scale − Mean[c]) / Std[c], channel order swapped to BGR when <see cref="Bgr"/>.
/// The model carries it so that users never have to know what their backbone was trained on.
/// </summary>
public sealed record ImageNormalization(float[] Mean, float[] Std, float Scale = 1f, bool Bgr = false)
{
    public static ImageNormalization ImageNet { get; } = new([0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);

    public bool Equals(ImageNormalization? other) =>
        other is not null && Mean.SequenceEqual(other.Mean) && Std.SequenceEqual(other.Std) && Scale == other.Scale && Bgr == other.Bgr;

    public override int GetHashCode() => HashCode.Combine(Mean.Length, Scale, Bgr);

    public override string ToString() =>
        $"{(Bgr ? "BGR" : "RGB")}×{Scale}, mean ({string.Join(", ", Mean)}), std ({string.Join(", ", Std)})";
}
