using System.Diagnostics;
using ProtoPNet.Model.Backbones;
using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Benchmarks;

/// <summary>One kernel's measured arithmetic rate: multiply-adds counted by hand, time the median of interleaved rounds.</summary>
public sealed record KernelRate(string Kernel, string Shape, string DType, double GigaFlopsPerSecond, double MinGigaFlopsPerSecond,
    double MaxGigaFlopsPerSecond, double MedianMilliseconds);

/// <summary>
/// The arithmetic rates libtorch reaches on this CPU for the kernels a ProtoPNet spends its time in: a matrix product
/// (<c>torch.mm</c>, which libtorch hands to its BLAS), the same product as a 1×1 convolution (oneDNN), and 3×3
/// convolutions of resnet18's shapes in NCHW and NHWC, in float32 and bfloat16. A forward pass cannot run faster than
/// its multiply-adds at these rates: scripts/bench-roofline.ps1 compares the push and inference figures with them.
/// </summary>
public static class KernelThroughput
{
    private sealed record Kernel(string Name, string Shape, double Flops, Func<Tensor> Run);

    /// <param name="rounds">Timed rounds; every kernel runs once per round (interleaved), after one untimed warm-up round.</param>
    public static IReadOnlyList<KernelRate> Measure(int rounds = 7, bool bfloat16 = true)
    {
        if (rounds < 1) throw new ArgumentOutOfRangeException(nameof(rounds));
        var rates = new List<KernelRate>();
        foreach (var dtype in bfloat16 ? new[] { ScalarType.Float32, ScalarType.BFloat16 } : [ScalarType.Float32])
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var kernels = Kernels(dtype);
            var seconds = kernels.Select(_ => new List<double>()).ToArray();
            for (int round = 0; round <= rounds; round++)
            {
                for (int k = 0; k < kernels.Count; k++)
                {
                    var watch = Stopwatch.StartNew();
                    kernels[k].Run().Dispose();
                    if (round > 0) seconds[k].Add(watch.Elapsed.TotalSeconds);
                }
            }
            for (int k = 0; k < kernels.Count; k++)
            {
                double median = ForwardBenchmark.Median(seconds[k]);
                rates.Add(new KernelRate(kernels[k].Name, kernels[k].Shape, dtype.ToString(), kernels[k].Flops / median / 1e9,
                    kernels[k].Flops / seconds[k].Max() / 1e9, kernels[k].Flops / seconds[k].Min() / 1e9, median * 1000));
            }
        }
        return rates;
    }

    private static List<Kernel> Kernels(ScalarType dtype)
    {
        var kernels = new List<Kernel>();
        // A large square product: the BLAS's best case.
        var a = rand(2048, 2048).to(dtype);
        var b = rand(2048, 2048).to(dtype);
        kernels.Add(new("mm", "2048×2048 · 2048×2048", 2.0 * 2048 * 2048 * 2048, () => mm(a, b)));
        // The nearest-patch distance product of smallcnn at 28×28 with 2,000 prototypes: [64·49, 128] · [128, 2000].
        var patches = rand(64 * 49, 128).to(dtype);
        var prototypes = rand(2000, 128).to(dtype);
        kernels.Add(new("mm", "3136×128 · 128×2000", 2.0 * 3136 * 128 * 2000, () => mm(patches, prototypes.t())));
        kernels.Add(new("conv 1×1 NHWC", "3136×128 · 128×2000", 2.0 * 3136 * 128 * 2000, () =>
            nn.functional.conv2d(patches.view(64, 7, 7, 128).permute(0, 3, 1, 2), prototypes.view(2000, 128, 1, 1))));
        // resnet18's 3×3 convolutions at 64×64 input, batch 100: layer2 (128 channels, 8×8) and layer4 (512 channels, 2×2).
        foreach (var (channels, size) in new[] { (128L, 8L), (512L, 2L) })
        {
            var input = rand(100, channels, size, size).to(dtype);
            var weight = rand(channels, channels, 3, 3).to(dtype);
            var inputLast = ChannelsLast.Strides(input);
            var weightLast = ChannelsLast.Strides(weight);
            double flops = 2.0 * 100 * size * size * channels * channels * 9;
            string shape = $"100×{channels}×{size}×{size}, 3×3";
            kernels.Add(new("conv NCHW", shape, flops, () => nn.functional.conv2d(input, weight, padding: [1, 1])));
            kernels.Add(new("conv NHWC", shape, flops, () => nn.functional.conv2d(inputLast, weightLast, padding: [1, 1])));
        }
        return kernels;
    }
}
