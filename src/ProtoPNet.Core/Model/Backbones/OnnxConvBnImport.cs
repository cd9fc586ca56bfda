using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ProtoPNet.Model.Backbones;

/// <summary>
/// Copies the weights of an ONNX graph made of Conv → BatchNormalization pairs (a CNTK or PyTorch export of a
/// ResNet) into a TorchSharp module of the same structure. The graph's names are meaningless (Parameter91,
/// Constant98…), so the pairing is structural: the k-th 1×1 convolution of the graph goes to the k-th 1×1
/// convolution of the module (the shortcut projections), the k-th other convolution to the k-th other one, each
/// with the batch norm that consumes its output. Shapes are checked for every tensor.
/// </summary>
public static class OnnxConvBnImport
{
    public static int CopyInto(nn.Module module, IReadOnlyList<OnnxNode> nodes, IReadOnlyDictionary<string, OnnxTensor> initializers, string source)
    {
        var bnByInput = nodes.Where(n => n.OpType == "BatchNormalization").ToDictionary(n => n.Inputs[0], StringComparer.Ordinal);
        var graphPairs = nodes.Where(n => n.OpType == "Conv").Select(conv =>
        {
            if (!bnByInput.TryGetValue(conv.Outputs[0], out var bn))
                throw Mismatch(source, $"convolution with weight '{conv.Inputs[1]}' is not followed by a batch norm");
            return (Conv: conv, Bn: bn, PointWise: initializers[conv.Inputs[1]].Dims[2] == 1);
        }).ToList();

        // The module's conv/bn pairs in registration order: each Conv2d followed (in that order) by its BatchNorm2d.
        var modulePairs = new List<(string Name, MixedPrecisionConv2d Conv, ScalarSafeBatchNorm2d Bn)>();
        MixedPrecisionConv2d? pending = null; string pendingName = "";
        foreach (var (name, child) in module.named_modules())
        {
            if (child is MixedPrecisionConv2d conv) { pending = conv; pendingName = name; }
            else if (child is ScalarSafeBatchNorm2d bn && pending is not null) { modulePairs.Add((pendingName, pending, bn)); pending = null; }
        }

        int copied = 0;
        foreach (bool pointWise in new[] { false, true })
        {
            var fromGraph = graphPairs.Where(p => p.PointWise == pointWise).ToList();
            var intoModule = modulePairs.Where(p => p.Conv.Weight.shape[2] == 1 == pointWise).ToList();
            if (fromGraph.Count != intoModule.Count)
                throw Mismatch(source, $"it has {fromGraph.Count} {(pointWise ? "1×1" : "k×k")} conv+bn pairs, the backbone {intoModule.Count}");
            using var _ = torch.no_grad();
            for (int i = 0; i < fromGraph.Count; i++)
            {
                var (conv, bn, _) = fromGraph[i];
                var target = intoModule[i];
                Copy(target.Conv.Weight, initializers[conv.Inputs[1]], $"{target.Name}.weight", source);
                Copy(target.Bn.Weight, initializers[bn.Inputs[1]], $"{target.Name}→bn.weight", source);
                Copy(target.Bn.Bias, initializers[bn.Inputs[2]], $"{target.Name}→bn.bias", source);
                Copy(target.Bn.RunningMean, initializers[bn.Inputs[3]], $"{target.Name}→bn.running_mean", source);
                Copy(target.Bn.RunningVar, initializers[bn.Inputs[4]], $"{target.Name}→bn.running_var", source);
                copied += 5;
            }
        }
        return copied;
    }

    private static void Copy(Tensor target, OnnxTensor source, string what, string file)
    {
        if (!target.shape.SequenceEqual(source.Dims))
            throw new ProtoPNetException("WeightShapeMismatch", ErrorKind.InvalidData,
                $"ONNX tensor '{source.Name}' for {what} has shape [{string.Join(",", source.Dims)}], the backbone needs [{string.Join(",", target.shape)}] ({file}).", file);
        using var t = torch.tensor(source.Data, source.Dims);
        target.copy_(t);
    }

    private static ProtoPNetException Mismatch(string source, string why) =>
        new("OnnxStructureMismatch", ErrorKind.InvalidData, $"The ONNX graph in '{source}' does not match the backbone: {why}.", source);
}
