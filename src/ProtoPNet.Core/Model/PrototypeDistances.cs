using TorchSharp;
using ProtoPNet.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ProtoPNet.Model;

/// <summary>The prototype layer's arithmetic, kept free of module state so tests and push can call it directly.</summary>
public static class PrototypeDistances
{
    /// <summary>
    /// Squared L2 distance between every h×w patch of <paramref name="z"/> [N,D,H,W] and every prototype
    /// [m,D,h,w], as conv(z², 1) − 2·conv(z, p) + ‖p‖², clamped at 0: [N, m, H−h+1, W−w+1].
    /// </summary>
    public static Tensor Compute(Tensor z, Tensor prototypes)
    {
        using var scope = NewDisposeScope();
        long depth = prototypes.shape[1], h = prototypes.shape[2], w = prototypes.shape[3];
        var ones = torch.ones(1, depth, h, w, dtype: z.dtype, device: z.device);
        var zSquared = conv2d(z.Square(), ones);                                  // [N,1,H',W']
        var cross = conv2d(z, prototypes);                                         // [N,m,H',W']
        var pSquared = prototypes.Square().sum([1, 2, 3]).view(1, -1, 1, 1);       // [1,m,1,1]
        var distances = relu((zSquared - cross.Mul(2)).Add(pSquared));
        return distances.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The nearest patch's distance per image and prototype, [N, m], as <see cref="MinOverPatches"/> of
    /// <see cref="Compute"/>. When a gradient is wanted for 1×1 float32 prototypes on the CPU (training), it comes from
    /// <see cref="NearestPatchDistance"/>: the same arithmetic as one GEMM, to float32 rounding, with a backward pass that
    /// touches only the nearest patches. Without gradients (evaluation, explanations, push, the last layer's vectors) it
    /// is exactly the min-pool of the maps that explanations show.
    /// </summary>
    public static Tensor Nearest(Tensor z, Tensor prototypes)
    {
        if (torch.is_grad_enabled() && (z.requires_grad || prototypes.requires_grad) && NearestPatchDistance.Supports(z, prototypes))
            return NearestPatchDistance.Apply(z, prototypes);
        using var scope = NewDisposeScope();
        return MinOverPatches(Compute(z, prototypes)).MoveToOuterDisposeScope();
    }

    /// <summary>Global min-pool: the nearest patch's distance per image and prototype, [N, m].</summary>
    public static Tensor MinOverPatches(Tensor distances) => distances.flatten(2).amin(2);

    public static Tensor Similarity(Tensor distances, SimilarityKind kind, double epsilon) => kind switch
    {
        SimilarityKind.Log => (distances.Add(1) / distances.Add(epsilon)).log(),
        SimilarityKind.Linear => -distances,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
