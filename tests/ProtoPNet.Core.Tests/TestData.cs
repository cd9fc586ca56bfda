using ProtoPNet.Data;
using ProtoPNet.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Tests;

/// <summary>Small synthetic datasets and models for fast tests.</summary>
internal static class TestData
{
    /// <summary>n images [3, size, size] in [0, 1]: noise plus a class-dependent bright square, so classes are learnable.</summary>
    public static TensorDataset Images(int n, int classes, int size, int seed, string name = "synthetic", int[]? labels = null, string[]? classNames = null)
    {
        var generator = new torch.Generator((ulong)seed);
        var images = torch.rand([n, 3, size, size], generator: generator) * 0.5f;
        labels ??= Enumerable.Range(0, n).Select(i => i % classes).ToArray();
        int patch = Math.Max(2, size / 4);
        for (int i = 0; i < n; i++)
        {
            int offset = (labels[i] * patch) % (size - patch + 1);
            images[i, TensorIndex.Colon, TensorIndex.Slice(offset, offset + patch), TensorIndex.Slice(offset, offset + patch)] = torch.ones(3, patch, patch);
        }
        return new TensorDataset(name, images, labels, classNames ?? Enumerable.Range(0, classes).Select(c => $"c{c}").ToArray());
    }

    public static ProtoPNetModel Model(int classes, int prototypesPerClass = 2, int imageSize = 16, int seed = 1, int depth = 16) =>
        ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = "smallcnn", ImageSize = imageSize, PrototypeDepth = depth },
            Enumerable.Range(0, classes).Select(c => $"c{c}").ToArray(), prototypesPerClass, seed);

    public static Dictionary<string, float[]> State(nn.Module module, string prefix = "") =>
        module.state_dict().Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float32).cpu().data<float>().ToArray());

    public static bool BitIdentical(float[] a, float[] b) => a.Length == b.Length && a.Zip(b).All(p => BitConverter.SingleToInt32Bits(p.First) == BitConverter.SingleToInt32Bits(p.Second));
}
