using System.Collections;
using System.Text.RegularExpressions;
using ProtoPNet.Model;
using ProtoPNet.Model.Backbones;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace ProtoPNet.Persistence;

/// <summary>Settings the user gives when a PyTorch state dict does not say them itself.</summary>
public sealed record PyTorchImportOptions
{
    /// <summary>Backbone name; inferred from the feature keys when null.</summary>
    public string? Backbone { get; init; }
    public int ImageSize { get; init; } = 224;
    public SimilarityKind Similarity { get; init; } = SimilarityKind.Log;
    public IReadOnlyList<string>? ClassNames { get; init; }
}

/// <summary>
/// Reads a state dict saved by the authors' ProtoPNet code (features.*, add_on_layers.*, prototype_vectors,
/// last_layer.weight, optionally prototype_class_identity; their 'ones' tensor is ignored) into a working model.
/// The authors' scripts pickle whole modules; the README gives the two Python lines that turn one into a state dict.
/// </summary>
public static partial class PyTorchStateDictImport
{
    public static ProtoPNetModel Load(string path, PyTorchImportOptions options)
    {
        var state = Unpickle(path);
        try
        {
            foreach (var required in new[] { "prototype_vectors", "last_layer.weight" })
                if (!state.ContainsKey(required))
                    throw new ProtoPNetException("NotAProtoPNetStateDict", ErrorKind.InvalidData,
                        $"'{path}' has no '{required}' tensor: it is not the state dict of a ProtoPNet.", path);
            var prototypes = state["prototype_vectors"];
            var last = state["last_layer.weight"];
            int m = (int)prototypes.shape[0], classes = (int)last.shape[0];
            var architecture = new ProtoPNetArchitecture
            {
                Backbone = options.Backbone ?? InferBackbone(state.Keys, path),
                ImageSize = options.ImageSize,
                PrototypeDepth = (int)prototypes.shape[1],
                PrototypeSize = (int)prototypes.shape[2],
                AddOn = InferAddOn(state),
                Similarity = options.Similarity,
            };
            var classNames = options.ClassNames ?? Enumerable.Range(0, classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            if (classNames.Count != classes)
                throw new ProtoPNetException("ClassCountMismatch", ErrorKind.InvalidArgument,
                    $"{classNames.Count} class names were given; the state dict's last layer has {classes} classes.", path);
            int[] prototypeClass = state.TryGetValue("prototype_class_identity", out var identity)
                ? ClassOfEachRow(identity)
                : Enumerable.Range(0, m).Select(j => j / Math.Max(1, m / classes)).ToArray(); // the authors' layout: class-major blocks

            var model = ProtoPNetModel.FromParts(architecture, classNames, prototypeClass);
            var target = model.Network.state_dict();
            var missing = target.Keys.Where(k => !state.ContainsKey(k) && k != "prototype_class_identity").ToList();
            if (missing.Count > 0)
            {
                model.Dispose();
                throw new ProtoPNetException("WeightsMissingTensor", ErrorKind.InvalidData,
                    $"'{path}' lacks {missing.Count} tensor(s) the {architecture.Backbone} ProtoPNet needs: {string.Join(", ", missing.Take(8))}{(missing.Count > 8 ? ", …" : "")}.", path);
            }
            using (torch.no_grad())
            {
                foreach (var (name, tensor) in target)
                {
                    if (name == "prototype_class_identity") continue;
                    var source = state[name];
                    if (!source.shape.SequenceEqual(tensor.shape))
                    {
                        model.Dispose();
                        throw new ProtoPNetException("WeightShapeMismatch", ErrorKind.InvalidData,
                            $"Tensor '{name}' in '{path}' has shape [{string.Join(",", source.shape)}]; the model needs [{string.Join(",", tensor.shape)}].", path);
                    }
                    tensor.copy_(source);
                }
            }
            model.Name = Path.GetFileNameWithoutExtension(path);
            model.History.Add(new HistoryEntry { Stage = "ImportedFromPyTorch", Note = Path.GetFileName(path) });
            return model;
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
    }

    /// <summary>The class each prototype belongs to: the column of the one in its row of the one-hot identity [m, K].</summary>
    private static int[] ClassOfEachRow(Tensor identity)
    {
        using var scope = NewDisposeScope();
        return identity.argmax(1).to(ScalarType.Int64).data<long>().Select(c => (int)c).ToArray();
    }

    private static Dictionary<string, Tensor> Unpickle(string path)
    {
        try
        {
            var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (DictionaryEntry e in PyTorchUnpickler.UnpickleStateDict(path))
                if (e.Value is Tensor t) result[(string)e.Key] = t;
            return result;
        }
        catch (Exception e) when (e is not ProtoPNetException)
        {
            throw new ProtoPNetException("WeightsFileUnreadable", ErrorKind.InvalidData,
                $"'{path}' cannot be read as a PyTorch state dict ({e.Message}). If it is a whole pickled model, save its state dict first (see the README).", path, e);
        }
    }

    /// <summary>Recognizes the backbone from the authors' feature keys (which use torchvision's names).</summary>
    public static string InferBackbone(IEnumerable<string> keys, string path)
    {
        var list = keys.Where(k => k.StartsWith("features.", StringComparison.Ordinal)).ToList();
        if (list.Any(k => k.StartsWith("features.layer4.", StringComparison.Ordinal)))
        {
            bool bottleneck = list.Any(k => k.Contains(".conv3.", StringComparison.Ordinal));
            var blocks = Enumerable.Range(1, 4).Select(l => list.Select(k => ResNetBlock().Match(k))
                .Where(m => m.Success && m.Groups[1].Value == l.ToString()).Select(m => int.Parse(m.Groups[2].Value) + 1).DefaultIfEmpty(0).Max()).ToArray();
            string shape = $"{(bottleneck ? "B" : "b")}{string.Join(",", blocks)}";
            return shape switch
            {
                "b2,2,2,2" => "resnet18", "b3,4,6,3" => "resnet34", "B3,4,6,3" => "resnet50",
                "B3,4,23,3" => "resnet101", "B3,8,36,3" => "resnet152",
                _ => throw Unknown(path, $"a ResNet with {(bottleneck ? "bottleneck" : "basic")} blocks {string.Join(",", blocks)}"),
            };
        }
        if (list.Any(k => k.Contains(".denseblock", StringComparison.Ordinal)))
        {
            var layers = Enumerable.Range(1, 4).Select(b => list.Select(k => DenseLayer().Match(k))
                .Where(m => m.Success && m.Groups[1].Value == b.ToString()).Select(m => int.Parse(m.Groups[2].Value)).DefaultIfEmpty(0).Max()).ToArray();
            return string.Join(",", layers) switch
            {
                "6,12,24,16" => "densenet121", "6,12,36,24" => "densenet161", "6,12,32,32" => "densenet169", "6,12,48,32" => "densenet201",
                var other => throw Unknown(path, $"a DenseNet with blocks {other}"),
            };
        }
        if (list.Any(k => k.StartsWith("features.features.conv1.", StringComparison.Ordinal))) return "smallcnn";
        var vggConvs = list.Where(k => VggWeight().IsMatch(k)).ToList();
        if (vggConvs.Count > 0)
        {
            bool bn = list.Any(k => k.EndsWith(".running_mean", StringComparison.Ordinal));
            // With batch norm, both conv and BN weights match; count only 4-D-index conv positions via biases of convs.
            int convs = list.Count(k => VggBias().IsMatch(k)) - (bn ? list.Count(k => k.EndsWith(".running_mean", StringComparison.Ordinal)) : 0);
            string depth = convs switch { 8 => "vgg11", 10 => "vgg13", 13 => "vgg16", 16 => "vgg19", _ => throw Unknown(path, $"a VGG with {convs} convolutions") };
            return bn ? depth + "_bn" : depth;
        }
        throw Unknown(path, "no known feature-key pattern");
    }

    private static AddOnKind InferAddOn(Dictionary<string, Tensor> state)
    {
        var convs = state.Keys.Where(k => k.StartsWith("add_on_layers.", StringComparison.Ordinal) && k.EndsWith(".weight", StringComparison.Ordinal)).ToList();
        // Regular is two 1×1 convs C→D→D; a one-block Bottleneck (C ≤ 2D) has the same layers and activations, so it is equivalent.
        return convs.Count == 2 ? AddOnKind.Regular : AddOnKind.Bottleneck;
    }

    private static ProtoPNetException Unknown(string path, string what) =>
        new("UnknownBackboneKeys", ErrorKind.InvalidData,
            $"Cannot tell the backbone of '{path}' from its keys ({what}). Give it with -Backbone.", path);

    [GeneratedRegex(@"^features\.layer(\d)\.(\d+)\.")] private static partial Regex ResNetBlock();
    [GeneratedRegex(@"\.denseblock(\d)\.denselayer(\d+)\.")] private static partial Regex DenseLayer();
    [GeneratedRegex(@"^features\.features\.\d+\.weight$")] private static partial Regex VggWeight();
    [GeneratedRegex(@"^features\.features\.\d+\.bias$")] private static partial Regex VggBias();
}
