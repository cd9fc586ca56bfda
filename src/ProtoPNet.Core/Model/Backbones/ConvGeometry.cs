namespace ProtoPNet.Model.Backbones;

/// <summary>One spatial operation on a backbone's longest path: a convolution or pooling window.</summary>
public readonly record struct ConvStep(int Kernel, int Stride = 1, int Padding = 0);

/// <summary>
/// Feature-map size and receptive field of a chain of convolutions and poolings, computed from the chain itself
/// (Araujo et al., "Computing Receptive Fields of Convolutional Neural Networks", Distill 2019): for each step
/// the field grows by (k−1)·jump, the jump multiplies by the stride, and the centre of cell 0 moves by
/// ((k−1)/2 − p)·jump. Residual and dense shortcuts are shorter paths with the same centres, so the longest
/// path gives the field.
/// </summary>
public static class ConvGeometry
{
    public static int OutputSize(IEnumerable<ConvStep> path, int inputSize)
    {
        int size = inputSize;
        foreach (var s in path) size = (size + 2 * s.Padding - s.Kernel) / s.Stride + 1;
        return size;
    }

    public static ReceptiveField ReceptiveField(IEnumerable<ConvStep> path)
    {
        int size = 1, jump = 1;
        double centre = 0.5;  // centre of input pixel 0, in continuous pixel coordinates (pixel i spans [i, i+1))
        foreach (var s in path)
        {
            size += (s.Kernel - 1) * jump;
            centre += ((s.Kernel - 1) / 2.0 - s.Padding) * jump;
            jump *= s.Stride;
        }
        return new ReceptiveField(size, jump, centre - 0.5);
    }
}
