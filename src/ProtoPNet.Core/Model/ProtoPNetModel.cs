using ProtoPNet.Model.Backbones;
using TorchSharp;
using ProtoPNet.Data;
using ProtoPNet.Runtime;
using static TorchSharp.torch;

namespace ProtoPNet.Model;

/// <summary>
/// A ProtoPNet as users hold it: the network plus what gives its numbers meaning — class names,
/// input size and normalization, each prototype's class and provenance, and the training history.
/// </summary>
public sealed class ProtoPNetModel : IClassifier, IDisposable
{
    private int[] prototypeClass;
    private PrototypeProvenance?[] provenance;

    internal ProtoPNetModel(ProtoPNetArchitecture architecture, IReadOnlyList<string> classNames, int[] prototypeClass,
        ProtoPNetNetwork network, torch.Device device)
    {
        Architecture = architecture;
        ClassNames = classNames.ToArray();
        this.prototypeClass = prototypeClass;
        provenance = new PrototypeProvenance?[prototypeClass.Length];
        Network = network;
        Device = device;
    }

    /// <summary>Builds a freshly initialized model (docs/algorithm.md §1–3). <paramref name="seed"/> makes the initialization reproducible.</summary>
    public static ProtoPNetModel Create(ProtoPNetArchitecture architecture, IReadOnlyList<string> classNames,
        int prototypesPerClass = 10, int? seed = null, string? device = null)
    {
        Validate(architecture, classNames, prototypesPerClass);
        var dev = Devices.Resolve(device);
        if (seed is int s) torch.manual_seed(s);
        var backbone = BackboneFactory.Create(architecture.Backbone);
        int featureSize = backbone.FeatureMapSize(architecture.ImageSize);
        if (featureSize < architecture.PrototypeSize)
        {
            backbone.Dispose();
            throw new ProtoPNetException("ImageTooSmall", ErrorKind.InvalidArgument,
                $"At -ImageSize {architecture.ImageSize} the {architecture.Backbone} feature map is {featureSize}×{featureSize}, " +
                $"smaller than the {architecture.PrototypeSize}×{architecture.PrototypeSize} prototypes. Use a larger image size.", architecture.ImageSize);
        }
        var arch = architecture with { Normalization = architecture.Normalization ?? backbone.DefaultNormalization };
        var classes = Enumerable.Range(0, classNames.Count * prototypesPerClass).Select(j => j / prototypesPerClass).ToArray();
        var network = new ProtoPNetNetwork(backbone, arch, classes, classNames.Count);
        network.to(dev);
        return new ProtoPNetModel(arch, classNames, classes, network, dev);
    }

    /// <summary>A model of the given structure with explicit per-prototype classes; weights are then copied in by the caller.</summary>
    internal static ProtoPNetModel FromParts(ProtoPNetArchitecture architecture, IReadOnlyList<string> classNames, int[] prototypeClass, string? device = null)
    {
        var backbone = BackboneFactory.Create(architecture.Backbone, pretrained: false);
        var arch = architecture with { Normalization = architecture.Normalization ?? backbone.DefaultNormalization };
        var network = new ProtoPNetNetwork(backbone, arch, prototypeClass, classNames.Count);
        var dev = Devices.Resolve(device);
        network.to(dev);
        return new ProtoPNetModel(arch, classNames, prototypeClass, network, dev);
    }

    private static void Validate(ProtoPNetArchitecture a, IReadOnlyList<string> classNames, int prototypesPerClass)
    {
        if (classNames.Count < 1)
            throw new ProtoPNetException("NoClasses", ErrorKind.InvalidArgument, "A model needs at least one class.");
        var duplicate = classNames.GroupBy(c => c, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ProtoPNetException("DuplicateClassName", ErrorKind.InvalidArgument, $"Class name '{duplicate.Key}' appears more than once.", duplicate.Key);
        if (prototypesPerClass < 1)
            throw new ProtoPNetException("InvalidPrototypeCount", ErrorKind.InvalidArgument, "PrototypesPerClass must be at least 1.", prototypesPerClass);
        if (a.PrototypeDepth < 1 || a.PrototypeSize < 1 || a.ImageSize < 8)
            throw new ProtoPNetException("InvalidArchitecture", ErrorKind.InvalidArgument,
                $"PrototypeDepth ({a.PrototypeDepth}) and PrototypeSize ({a.PrototypeSize}) must be positive and ImageSize ({a.ImageSize}) at least 8.");
    }

    public string Name { get; set; } = "ProtoPNet";
    public ProtoPNetArchitecture Architecture { get; }
    public ImageNormalization Normalization => Architecture.Normalization ?? ImageNormalization.ImageNet;
    public IReadOnlyList<string> ClassNames { get; }
    public ProtoPNetNetwork Network { get; }
    public torch.Device Device { get; private set; }
    public List<HistoryEntry> History { get; } = new();

    /// <summary>The class index of each prototype.</summary>
    public IReadOnlyList<int> PrototypeClass => prototypeClass;
    public IReadOnlyList<PrototypeProvenance?> Provenance => provenance;
    public string Backbone => Architecture.Backbone;
    public int ImageSize => Architecture.ImageSize;
    public int PrototypeCount => prototypeClass.Length;
    public int ClassCount => ClassNames.Count;
    public int FeatureMapSize => Network.Backbone.FeatureMapSize(Architecture.ImageSize) - Architecture.PrototypeSize + 1;

    /// <summary>
    /// The input window one prototype patch sees: the backbone cell's field widened by (PrototypeSize − 1) cells, centred
    /// on the patch (the add-on layers are 1×1). Explanations report it beside each box, which is only as local as this.
    /// </summary>
    public ReceptiveField PatchReceptiveField
    {
        get
        {
            var cell = Network.Backbone.ReceptiveField;
            int extra = (Architecture.PrototypeSize - 1) * cell.Stride;
            return new ReceptiveField(cell.Size + extra, cell.Stride, cell.Offset + extra / 2.0);
        }
    }

    /// <summary>
    /// Whether the backbone holds learned weights: ImageNet or other weights were loaded, the model was imported from
    /// PyTorch, or it has been through stage-1 training. A randomly initialised backbone needs other training defaults
    /// than a pretrained one (see Start-ProtoPNetTraining's help and docs/algorithm.md, "Training from scratch").
    /// </summary>
    public bool BackboneIsTrained => History.Any(h => h.Stage is "PretrainedBackbone" or "BackboneWeights" or "ImportedFromPyTorch" or "Training");

    public long TrainableParameterCount => Network.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
    public long ParameterCount => Network.parameters().Sum(p => p.numel());

    /// <summary>
    /// Serializes use of the network: TorchSharp modules are not safe to run from several threads at once
    /// (train/eval mode and autograd state are per module), so concurrent callers queue here.
    /// </summary>
    public object SyncRoot { get; } = new();

    public void SetProvenance(int prototype, PrototypeProvenance? record) => provenance[prototype] = record;

    /// <summary>Each prototype's last-layer weight to its own class (a copy, on the CPU).</summary>
    public double[] OwnClassWeights()
    {
        float[] w;
        using (var scope = torch.NewDisposeScope())
        using (torch.no_grad())
            w = Network.LastLayer.weight!.detach().cpu().data<float>().ToArray();
        int m = PrototypeCount;
        return Enumerable.Range(0, m).Select(j => (double)w[prototypeClass[j] * m + j]).ToArray();
    }

    internal void ReplaceProvenance(PrototypeProvenance?[] records) => provenance = records;

    /// <summary>Logits [N,K] for normalized images, in eval mode without gradients, serialized on <see cref="SyncRoot"/>.</summary>
    public Tensor Logits(Tensor normalizedImages) => Infer(network =>
    {
        using var scope = torch.NewDisposeScope();
        var (logits, _) = network.ForwardNearest(network.BackboneFeatures(normalizedImages.to(Device)));
        return logits.cpu().MoveToOuterDisposeScope();
    });

    /// <summary>
    /// Runs <paramref name="work"/> on the network in eval mode without gradients, holding <see cref="SyncRoot"/>, and
    /// then gives every module back the mode it had: a training run with a frozen backbone (eval) and a training
    /// head keeps that mix across a validation pass.
    /// </summary>
    public T Infer<T>(Func<ProtoPNetNetwork, T> work)
    {
        lock (SyncRoot)
        {
            using var _ = torch.no_grad();
            var modes = Network.modules().Select(m => (Module: m, m.training)).ToArray();
            bool wasTraining = Network.training;
            Network.eval();
            try
            {
                return work(Network);
            }
            finally
            {
                if (wasTraining) Network.train();
                foreach (var (module, training) in modes) module.train(training);
            }
        }
    }

    IReadOnlyList<ProtoPNetModel> IClassifier.Members => [this];

    /// <summary>
    /// Keeps only the prototypes <paramref name="keep"/> (ascending indices): network, prototype classes and provenance
    /// shrink together so the model stays consistent. Pruning calls it; re-optimize the last layer afterwards.
    /// </summary>
    public void RemovePrototypes(IReadOnlyList<int> keep)
    {
        if (keep.Count == 0 || keep.Any(i => i < 0 || i >= PrototypeCount) || keep.Distinct().Count() != keep.Count)
            throw new ProtoPNetException("InvalidPrototypeSelection", ErrorKind.InvalidArgument,
                $"The prototypes to keep must be distinct indices in 0..{PrototypeCount - 1}, at least one.");
        lock (SyncRoot)
        {
            Network.RemovePrototypes(keep);
            prototypeClass = keep.Select(j => prototypeClass[j]).ToArray();
            provenance = keep.Select(j => provenance[j]).ToArray();
        }
    }

    public void MoveTo(string device)
    {
        var dev = Devices.Resolve(device);
        Network.to(dev);
        Device = dev;
        KeepFeatures(null);   // on the old device
    }

    /// <summary>The latent features push kept for the last-layer stage (see <see cref="Model.LatentCache"/>); null when none.</summary>
    public LatentCache? LatentCache => latentCache;
    private LatentCache? latentCache;

    /// <summary>Replaces (and disposes) the kept latent features; null drops them.</summary>
    public void KeepLatents(LatentCache? cache) => Replace(ref latentCache, cache);

    /// <summary>
    /// The frozen backbone's output over the training set, kept from a training run that ended with the backbone frozen
    /// (see <see cref="FeatureCache"/>): push over that dataset, and a later run's frozen-backbone epochs, start from it
    /// while it matches the backbone. Null when none.
    /// </summary>
    internal FeatureCache? KeptFeatures => keptFeatures;
    private FeatureCache? keptFeatures;

    /// <summary>Replaces (and disposes) the kept backbone features; null drops them.</summary>
    internal void KeepFeatures(FeatureCache? cache) => Replace(ref keptFeatures, cache);

    /// <summary>The kept backbone features, handed over to the caller (the model no longer holds them); null when none.</summary>
    internal FeatureCache? TakeFeatures()
    {
        lock (SyncRoot)
        {
            var cache = keptFeatures;
            keptFeatures = null;
            return cache;
        }
    }

    /// <summary>Puts <paramref name="cache"/> in place of what <paramref name="kept"/> holds, disposing that unless it is the same.</summary>
    private void Replace<T>(ref T? kept, T? cache) where T : class, IDisposable
    {
        lock (SyncRoot)
        {
            if (ReferenceEquals(cache, kept)) return;
            kept?.Dispose();
            kept = cache;
        }
    }

    public void Dispose()
    {
        latentCache?.Dispose();
        latentCache = null;
        keptFeatures?.Dispose();
        keptFeatures = null;
        Network.Dispose();
    }

    public override string ToString() =>
        $"{Name}: {Architecture.Backbone}, {ClassCount} classes, {PrototypeCount} prototypes, {Architecture.ImageSize}×{Architecture.ImageSize}";
}
