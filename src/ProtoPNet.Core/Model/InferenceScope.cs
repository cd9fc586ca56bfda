using ProtoPNet.Model.Backbones;

namespace ProtoPNet.Model;

/// <summary>
/// For its length, the convolutions of the given models keep the weights they prepare for inference: BatchNorm folded in,
/// NHWC strides, the input's dtype (see <see cref="MixedPrecisionConv2d.ForwardWithBatchNorm"/>). A pass over many batches
/// (evaluation, push, the last layer's similarity vectors, the warm cache) opens one, so that the preparation — a copy of
/// every weight — is paid once instead of per batch. Training passes inside a scope bypass and drop the kept weights.
/// Scopes nest; the weights are freed when the last one ends. See docs/performance.md, "Inference weights".
/// </summary>
public sealed class InferenceScope : IDisposable
{
    private readonly (object Lock, MixedPrecisionConv2d[] Convolutions)[] members;
    private bool ended;

    private InferenceScope(IEnumerable<(object Lock, ProtoPNetNetwork Network)> networks)
    {
        members = networks.DistinctBy(n => n.Network).Select(n => (n.Lock, n.Network.modules().OfType<MixedPrecisionConv2d>().ToArray())).ToArray();
        foreach (var (gate, convolutions) in members)
            lock (gate)
                foreach (var convolution in convolutions) convolution.BeginInferenceScope();
    }

    /// <summary>A scope over every member of <paramref name="classifier"/> (a model, or each model of an ensemble).</summary>
    public static InferenceScope Begin(IClassifier classifier) => new(classifier.Members.Select(m => (m.SyncRoot, m.Network)));

    /// <summary>A scope over a network its caller owns alone (the trainer's, while it builds the warm phase's cache).</summary>
    internal static InferenceScope Begin(ProtoPNetNetwork network) => new([(new object(), network)]);

    public void Dispose()
    {
        if (ended) return;
        ended = true;
        foreach (var (gate, convolutions) in members)
            lock (gate)
                foreach (var convolution in convolutions) convolution.EndInferenceScope();
    }
}
