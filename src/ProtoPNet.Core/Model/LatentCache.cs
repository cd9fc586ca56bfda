using ProtoPNet.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Model;

/// <summary>
/// The add-on output z = add_on(features(x)) of every loadable image of one dataset, kept by push for the last-layer
/// stage that usually follows it (<c>Invoke-PrototypePush | Optimize-LastLayer</c>). Push replaces only the prototypes,
/// so that stage's similarity vectors follow from z and the new prototypes by the same distance, min-pool and
/// similarity operations the forward pass runs, without a second pass of the backbone (docs/performance.md,
/// "Latent cache"). Valid while the dataset is the same object and the backbone and add-on hold the same weights and
/// statistics (a SHA-256 fingerprint of their bytes) at the same precision; anything else recomputes.
/// </summary>
public sealed class LatentCache : IDisposable
{
    /// <summary>The largest cache push keeps (bytes of z); above it the last layer runs its own pass.</summary>
    public const long MaxBytes = 1L << 30;

    private LatentCache(ImageDataset dataset, Tensor latents, Tensor labels, byte[] fingerprint, ComputePrecision precision)
    {
        Dataset = dataset;
        Latents = latents;
        Labels = labels;
        this.fingerprint = fingerprint;
        this.precision = precision;
    }

    private readonly byte[] fingerprint;
    private readonly ComputePrecision precision;

    public ImageDataset Dataset { get; }
    /// <summary>z of the loadable images in dataset order, [N, D, H, W] float32 on the CPU.</summary>
    public Tensor Latents { get; }
    /// <summary>Their labels, [N] int64 on the CPU.</summary>
    public Tensor Labels { get; }

    /// <summary>Takes ownership of <paramref name="latents"/> and <paramref name="labels"/> (CPU tensors in dataset order).</summary>
    public static LatentCache Create(ProtoPNetNetwork network, ImageDataset dataset, Tensor latents, Tensor labels) =>
        new(dataset, latents, labels, Fingerprint(network), network.BackbonePrecision);

    public bool Matches(ProtoPNetNetwork network, ImageDataset dataset) =>
        ReferenceEquals(dataset, Dataset) && network.BackbonePrecision == precision && Fingerprint(network).AsSpan().SequenceEqual(fingerprint);

    /// <summary>SHA-256 over the names and bytes of every parameter and buffer of the backbone and the add-on: what z depends on.</summary>
    public static byte[] Fingerprint(ProtoPNetNetwork network) =>
        StateFingerprint.Of(("features.", network.Backbone), ("add_on_layers.", network.AddOn));

    /// <summary>Similarity vectors [N, m] (float64, CPU) of the cached images under the network's current prototypes.</summary>
    public Tensor Similarities(ProtoPNetModel model, int batchSize, IProgress<StageProgress>? progress, CancellationToken cancel)
    {
        long n = Latents.shape[0];
        var parts = new List<Tensor>();
        try
        {
            for (long start = 0; start < n; start += batchSize)
            {
                cancel.ThrowIfCancellationRequested();
                long count = Math.Min(batchSize, n - start);
                parts.Add(model.Infer(network =>
                {
                    using var scope = NewDisposeScope();
                    var z = Latents.narrow(0, start, count).to(model.Device);
                    var distances = PrototypeDistances.Nearest(z, network.Prototypes);
                    return network.Similarities(distances).to(ScalarType.Float64).cpu().MoveToOuterDisposeScope();
                }));
                progress?.Report(new StageProgress((int)(start + count), (int)n, "Similarity vectors from push's latent cache"));
            }
            return n == 0 ? torch.zeros(0, model.PrototypeCount, dtype: ScalarType.Float64) : torch.cat(parts, 0);
        }
        finally
        {
            foreach (var part in parts) part.Dispose();
        }
    }

    public void Dispose()
    {
        Latents.Dispose();
        Labels.Dispose();
    }
}
