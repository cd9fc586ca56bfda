using System.Diagnostics;
using TorchSharp;
using TorchSharp.PyBridge;
using ProtoPNet.Data;
using ProtoPNet.Runtime;
using static TorchSharp.torch;

namespace ProtoPNet.Model.Backbones;

/// <summary>
/// The one ImageNet-trained backbone that can be had offline: the ResNet-18 variant that NuGet's
/// Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 (MIT) ships as ONNX, a CNTK export with basic blocks
/// [2, 2, 2, 3] (not torchvision's [2, 2, 2, 2]) and batch norm unfolded. It expects Caffe-style input:
/// BGR, 0–255, minus the per-channel means B 103.1, G 115.9, R 123.2, no std scaling — the model records that
/// normalization, so users feed ordinary RGB images. The build converts the ONNX weights once into
/// <c>weights/resnet18-imagenet.safetensors</c> beside the module's assemblies.
/// </summary>
public static class ImageNetResNet18
{
    public const string Name = "resnet18-imagenet";
    public const string WeightsFileName = "resnet18-imagenet.safetensors";

    /// <summary>Caffe-style input: x·255 − mean, BGR (means listed in RGB order, as everywhere in this library).</summary>
    public static ImageNormalization Normalization { get; } = new([123.2f, 115.9f, 103.1f], [1f, 1f, 1f], Scale: 255f, Bgr: true);

    /// <summary>Where the converted weights are looked for; defaults to weights/ beside ProtoPNet.Core.dll.</summary>
    public static string WeightsDirectory { get; set; } =
        Path.Combine(Path.GetDirectoryName(typeof(ImageNetResNet18).Assembly.Location) ?? ".", "weights");

    /// <summary>An untrained backbone of the variant's structure.</summary>
    public static ResNet CreateUntrained() => new(Name, (false, [2, 2, 2, 3]), Normalization);

    /// <summary>The backbone with its ImageNet weights.</summary>
    public static ResNet CreatePretrained()
    {
        string path = Path.Combine(WeightsDirectory, WeightsFileName);
        if (!File.Exists(path))
            throw new ProtoPNetException("PretrainedWeightsMissing", ErrorKind.ResourceUnavailable,
                $"The converted ImageNet weights of {Name} are not at '{path}'. Run 'dotnet pwsh ./build.ps1', which converts them " +
                "from the Microsoft.ML.DnnImageFeaturizer.ResNet18 NuGet package.", path);
        var backbone = CreateUntrained();
        BackboneWeights.Load(backbone, path);
        return backbone;
    }

    /// <summary>Converts the package's ResNet18.onnx into a safetensors state dict with torchvision names; returns seconds taken.</summary>
    public static double Convert(string onnxPath, string outputPath)
    {
        var watch = Stopwatch.StartNew();
        var (nodes, initializers) = OnnxModelReader.Read(onnxPath);
        using var backbone = CreateUntrained();
        int copied = OnnxConvBnImport.CopyInto(backbone, nodes, initializers, onnxPath);
        if (copied != initializers.Count)
            throw new ProtoPNetException("OnnxStructureMismatch", ErrorKind.InvalidData,
                $"Only {copied} of the {initializers.Count} ONNX initializers in '{onnxPath}' found a place in the backbone.", onnxPath);
        var state = backbone.state_dict().Where(kv => !kv.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outputPath))!);
        Runtime.AtomicFile.Write(outputPath, stream => Safetensors.SaveStateDict(stream, state, leaveOpen: true));
        return watch.Elapsed.TotalSeconds;
    }
}
