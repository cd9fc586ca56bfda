using ProtoPNet.Model.Backbones;
using TorchSharp;
using TorchSharp.Modules;
using ProtoPNet.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ProtoPNet.Model;

/// <summary>One forward pass: logits [N,K], nearest-patch distances [N,m], and the full distance maps [N,m,H,W].</summary>
public sealed record ProtoPNetOutput(Tensor Logits, Tensor MinDistances, Tensor DistanceMaps) : IDisposable
{
    public void Dispose()
    {
        Logits.Dispose();
        MinDistances.Dispose();
        DistanceMaps.Dispose();
    }
}

/// <summary>
/// The ProtoPNet network: backbone → add-on 1×1 convs → prototype distances → min-pool → similarity → last layer.
/// Parameter names follow the authors' code (features.*, add_on_layers.*, prototype_vectors, last_layer.weight)
/// so that their state dicts map onto it.
/// </summary>
public sealed class ProtoPNetNetwork : Module<Tensor, ProtoPNetOutput>
{
    private readonly Backbone features;
    private readonly Sequential add_on_layers;
    // Not readonly: RemovePrototypes replaces them with their kept rows.
    private Parameter prototype_vectors;
    private readonly Linear last_layer;
    private Tensor prototype_class_identity;
    private readonly SimilarityKind similarity;
    private readonly double epsilon;

    public ProtoPNetNetwork(Backbone backbone, ProtoPNetArchitecture architecture, int[] prototypeClass, int classCount)
        : base("ProtoPNet")
    {
        features = backbone;
        add_on_layers = AddOnLayers.Create(architecture.AddOn, backbone.OutChannels, architecture.PrototypeDepth, backbone.AuthorsAddOnInitialization);
        int m = prototypeClass.Length;
        // The authors initialize prototypes uniform in [0, 1): the add-on output is a sigmoid, so they start inside its range.
        prototype_vectors = new Parameter(torch.rand(m, architecture.PrototypeDepth, architecture.PrototypeSize, architecture.PrototypeSize));
        last_layer = Linear(m, classCount, hasBias: false);
        // Built from an array: an indexer assignment per prototype would convert each 1f to a Tensor that nothing holds
        // during the native call (docs/performance.md, "Object lifetimes").
        var identity = new float[m * classCount];
        for (int j = 0; j < m; j++) identity[j * classCount + prototypeClass[j]] = 1f;
        prototype_class_identity = torch.tensor(identity, [m, classCount]);
        similarity = architecture.Similarity;
        epsilon = architecture.Epsilon;
        RegisterComponents();
        SetLastLayerIncorrectConnection(-0.5);
    }

    public Backbone Backbone => features;
    public Sequential AddOn => add_on_layers;
    public Parameter Prototypes => prototype_vectors;
    public Linear LastLayer => last_layer;
    /// <summary>One-hot [m, K]: row j marks the class prototype j belongs to.</summary>
    public Tensor PrototypeClassIdentity => prototype_class_identity;
    public SimilarityKind SimilarityKind => similarity;
    public double Epsilon => epsilon;

    /// <summary>w = 1 to the prototype's own class, <paramref name="incorrect"/> to the others (authors: −0.5).</summary>
    public void SetLastLayerIncorrectConnection(double incorrect)
    {
        using var _ = torch.no_grad();
        using var scope = NewDisposeScope();
        var positive = prototype_class_identity.t();
        last_layer.weight!.copy_(positive.Add(positive.RSub(1).Mul(incorrect)));
    }

    /// <summary>z = add_on(features(x)).</summary>
    public Tensor Latent(Tensor input)
    {
        using var scope = NewDisposeScope();
        return add_on_layers.forward(BackboneFeatures(input)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// features(x), in the input's dtype and contiguous, computed at <see cref="BackbonePrecision"/> in channels-last (NHWC) strides:
    /// oneDNN's NHWC convolutions are faster than its NCHW ones on this kind of CPU, in float32 (about 1.2× in inference,
    /// 1.1× in training, resnet18) and more so in bfloat16. Its NHWC 1×1 kernels are broken, so
    /// <see cref="Backbones.MixedPrecisionConv2d"/> runs 1×1 convolutions of NHWC input as a GEMM (docs/performance.md,
    /// "Channels-last").
    /// </summary>
    public Tensor BackboneFeatures(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = BackbonePrecision == ComputePrecision.BFloat16 ? input.to(ScalarType.BFloat16) : input;
        var output = features.forward(ChannelsLast.Strides(x));
        return (output.dtype == input.dtype ? output : output.to(input.dtype)).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The arithmetic of the backbone's convolutions (not saved with the model: a setting of the process, as threads
    /// are). Training sets it for its run from <see cref="Training.TrainingOptions.Precision"/>.
    /// </summary>
    public ComputePrecision BackbonePrecision { get; set; } = ComputePrecision.Float32;

    public override ProtoPNetOutput forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var output = ForwardFromBackboneFeatures(BackboneFeatures(input));
        output.Logits.MoveToOuterDisposeScope();
        output.MinDistances.MoveToOuterDisposeScope();
        output.DistanceMaps.MoveToOuterDisposeScope();
        return output;
    }

    /// <summary>The part after the backbone; lets a frozen backbone's output be computed once and reused.</summary>
    public ProtoPNetOutput ForwardFromBackboneFeatures(Tensor backboneFeatures)
    {
        using var scope = NewDisposeScope();
        var z = add_on_layers.forward(backboneFeatures);
        var maps = PrototypeDistances.Compute(z, prototype_vectors);
        var minDistances = PrototypeDistances.MinOverPatches(maps);
        var logits = last_layer.forward(PrototypeDistances.Similarity(minDistances, similarity, epsilon));
        return new ProtoPNetOutput(logits.MoveToOuterDisposeScope(), minDistances.MoveToOuterDisposeScope(), maps.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Logits and nearest-patch distances from the backbone's output, without the distance maps: what the loss and the
    /// accuracy need. Without gradients the same values as <see cref="ForwardFromBackboneFeatures"/>, bit for bit; with
    /// them (training) equal to float32 rounding, with a backward pass that only touches each image's nearest patches
    /// (<see cref="PrototypeDistances.Nearest"/>).
    /// </summary>
    public (Tensor Logits, Tensor MinDistances) ForwardNearest(Tensor backboneFeatures)
    {
        using var scope = NewDisposeScope();
        var minDistances = PrototypeDistances.Nearest(add_on_layers.forward(backboneFeatures), prototype_vectors);
        var logits = last_layer.forward(PrototypeDistances.Similarity(minDistances, similarity, epsilon));
        return (logits.MoveToOuterDisposeScope(), minDistances.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Keeps only the prototypes <paramref name="keep"/> (indices, in the order given): prototype vectors, last-layer
    /// columns and class identity rows shrink together. Used by pruning; optimizers built before it are stale.
    /// </summary>
    public void RemovePrototypes(IReadOnlyList<int> keep)
    {
        using var _ = torch.no_grad();
        using var scope = NewDisposeScope();   // the new parameters and buffer are detached from it below
        using var index = torch.tensor(keep.Select(i => (long)i).ToArray(), device: prototype_vectors.device);
        var oldPrototypes = prototype_vectors;
        var oldIdentity = prototype_class_identity;
        prototype_vectors = new Parameter(oldPrototypes.index_select(0, index).DetachFromDisposeScope(), oldPrototypes.requires_grad);
        prototype_vectors.DetachFromDisposeScope();
        ConditionallyRegisterParameter(nameof(prototype_vectors), prototype_vectors);
        bool weightGrad = last_layer.weight!.requires_grad;
        last_layer.weight = (Parameter)new Parameter(last_layer.weight.index_select(1, index).DetachFromDisposeScope(), weightGrad).DetachFromDisposeScope();
        prototype_class_identity = oldIdentity.index_select(0, index).DetachFromDisposeScope();
        ConditionallyRegisterBuffer(nameof(prototype_class_identity), prototype_class_identity);
        oldPrototypes.Dispose();
        oldIdentity.Dispose();
    }

    /// <summary>Similarity vectors [N,m] from distances, as the last layer sees them.</summary>
    public Tensor Similarities(Tensor minDistances) => PrototypeDistances.Similarity(minDistances, similarity, epsilon);
}
