using System.Numerics;
using System.Runtime.CompilerServices;
using TorchSharp;
using ProtoPNet.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ProtoPNet.Model;

/// <summary>
/// Training's view of the prototype layer for 1×1 prototypes: each image's nearest-patch distance to each prototype,
/// [N, m], with a backward pass that touches only the nearest patches. The forward is the maps' formula
/// ‖z‖² − 2·z·p + ‖p‖² as one GEMM over every patch of the batch, min-pooled before ‖p‖² is added and the clamp
/// (both monotone, so the order cannot change the minimum); it equals the convolution form to float32 rounding. The
/// generic backward multiplies an [N·H·W, m] gradient that is zero except at one patch per image and prototype by the
/// prototypes and by the patches, two products as large as the forward; here it is one pass over N·m rows.
/// See docs/performance.md, "Prototype distances".
/// </summary>
internal sealed class NearestPatchDistance : autograd.SingleTensorFunction<NearestPatchDistance>
{
    public override string Name => nameof(NearestPatchDistance);

    /// <summary>Nearest-patch distances [N, m] of <paramref name="z"/> [N, D, H, W] to 1×1 prototypes [m, D, 1, 1].</summary>
    public static Tensor Apply(Tensor z, Tensor prototypes)
    {
        using var scope = NewDisposeScope();
        long images = z.shape[0], depth = z.shape[1];
        var patches = z.permute(0, 2, 3, 1).reshape(-1, depth);           // [N·H·W, D]; a view when z is channels-last
        var vectors = prototypes.view(prototypes.shape[0], depth);        // [m, D]
        return apply(patches, vectors, images).MoveToOuterDisposeScope();
    }

    /// <summary>Whether the fused path applies: float32 CPU tensors and 1×1 prototypes (anything else takes the generic ops).</summary>
    public static bool Supports(Tensor z, Tensor prototypes) =>
        prototypes.shape[2] == 1 && prototypes.shape[3] == 1 && z.device_type == DeviceType.CPU
        && z.dtype == ScalarType.Float32 && prototypes.dtype == ScalarType.Float32;

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var patches = (Tensor)vars[0];
        var vectors = (Tensor)vars[1];
        long images = (long)vars[2];
        using var scope = NewDisposeScope();
        // ‖z‖² − 2·p·z as [m, N·H·W], ‖z‖² added by the GEMM itself. Prototype-major, so that each prototype's patches of
        // each image are contiguous and the min runs along memory.
        var partial = torch.addmm(patches.Square().sum(1).unsqueeze(0), vectors, patches.t(), beta: 1, alpha: -2);
        var (nearest, index) = partial.view(vectors.shape[0], images, -1).min(2);
        var distances = relu(nearest.Add(vectors.Square().sum(1, keepdim: true))).t();   // [N, m]
        // The clamp's gradient: zero where the distance was clamped at 0. Saved as its own tensor, not the output.
        var open = distances.GreaterThan(0.0).to(ScalarType.Float32);
        ctx.save_for_backward([patches, vectors, index.t().contiguous().MoveToOuterDisposeScope(), open.MoveToOuterDisposeScope()]);
        ctx.save_data("images", images);
        return distances.contiguous().MoveToOuterDisposeScope();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        using var scope = NewDisposeScope();   // also frees the unpacked saved tensors
        var saved = ctx.get_saved_variables();
        var (patches, vectors, index, open) = (saved[0], saved[1], saved[2], saved[3]);
        int images = (int)(long)ctx.get_data("images");
        // d = ‖z‖² − 2·z·p + ‖p‖² at the nearest patch: ∂d/∂z = 2(z − p), ∂d/∂p = 2(p − z).
        var weight = (gradOutput * open).Mul(2.0).contiguous();
        var z = patches.contiguous();
        var p = vectors.contiguous();
        var gradPatches = zeros_like(z);
        var gradVectors = zeros_like(p);
        Accumulate(z, p, index, weight, gradPatches, gradVectors, images);   // index was saved contiguous
        return [gradPatches.MoveToOuterDisposeScope(), gradVectors.MoveToOuterDisposeScope(), null!];
    }

    private static unsafe void Accumulate(Tensor patches, Tensor vectors, Tensor index, Tensor weight, Tensor gradPatches,
        Tensor gradVectors, int images)
    {
        // Tensor.bytes spans a contiguous CPU tensor's own memory.
        fixed (byte* z = patches.bytes, p = vectors.bytes, i = index.bytes, w = weight.bytes, gz = gradPatches.bytes, gp = gradVectors.bytes)
            Accumulate((float*)z, (float*)p, (long*)i, (float*)w, (float*)gz, (float*)gp,
                images, (int)vectors.shape[0], (int)(patches.shape[0] / images), (int)patches.shape[1]);
    }

    /// <summary>
    /// For every image n and prototype j with weight w = 2·∂L/∂d (zero where clamped) and nearest patch row r:
    /// ∂L/∂z_r += w·(z_r − p_j) and ∂L/∂p_j += w·(p_j − z_r). One thread: N·m·D multiply-adds (16 million at
    /// 64 images × 2,000 prototypes × 128) take a few milliseconds, and .NET pool threads started between libtorch's
    /// OpenMP regions only contend with its spinning workers; on 2 cores it measured no faster in parallel.
    /// AggressiveOptimization: tiered compilation would run these loops unoptimized for the first training steps.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Accumulate(float* z, float* p, long* index, float* w, float* gradZ, float* gradP,
        int images, int prototypes, int cells, int depth)
    {
        for (int n = 0; n < images; n++)
        {
            for (int j = 0; j < prototypes; j++)
            {
                long at = (long)n * prototypes + j;
                if (w[at] == 0) continue;
                long row = ((long)n * cells + index[at]) * depth, own = (long)j * depth;
                AddScaledDifference(gradZ + row, z + row, p + own, w[at], depth);
                AddScaledDifference(gradP + own, p + own, z + row, w[at], depth);
            }
        }
    }

    /// <summary>target += s·(a − b) over <paramref name="count"/> floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void AddScaledDifference(float* target, float* a, float* b, float s, int count)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var scale = new Vector<float>(s);
            for (; i <= count - Vector<float>.Count; i += Vector<float>.Count)
                (Vector.Load(target + i) + scale * (Vector.Load(a + i) - Vector.Load(b + i))).Store(target + i);
        }
        for (; i < count; i++) target[i] += s * (a[i] - b[i]);
    }
}
