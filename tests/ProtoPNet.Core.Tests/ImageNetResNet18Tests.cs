using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Model.Backbones;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ProtoPNet.Tests;

/// <summary>The offline ImageNet ResNet-18: our conversion of the ONNX file against ONNX Runtime running the original.</summary>
public sealed class ImageNetResNet18Tests : IDisposable
{
    private static readonly string Onnx = Path.Combine(AppContext.BaseDirectory, "onnx", "ResNet18.onnx");
    private readonly string dir = Directory.CreateTempSubdirectory("ptpn-onnx-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void ConvertedBackboneAgreesWithOnnxRuntimeOnTheOriginalModel()
    {
        string weights = Path.Combine(dir, ImageNetResNet18.WeightsFileName);
        ImageNetResNet18.Convert(Onnx, weights);
        using var backbone = ImageNetResNet18.CreateUntrained();
        var report = BackboneWeights.Load(backbone, weights);
        Assert.Empty(report.Missing);
        backbone.eval();

        // Two structured RGB images in [0, 1], normalized the way the model records (BGR, ×255, minus means).
        torch.manual_seed(11);
        using var rgb = torch.rand(2, 3, 224, 224) * torch.linspace(0, 1, 224).view(1, 1, 1, 224);
        using var input = Normalize.Apply(rgb, ImageNetResNet18.Normalization);
        using var session = new InferenceSession(Onnx);
        using var _ = torch.no_grad();
        for (int i = 0; i < 2; i++)
        {
            using var one = input[i].unsqueeze(0).contiguous();
            var ortInput = new DenseTensor<float>(one.data<float>().ToArray(), [1, 3, 224, 224]);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), ortInput)]);
            float[] expected = results.Single().AsEnumerable<float>().ToArray();      // 512 averaged features
            using var features = backbone.forward(one);                               // [1, 512, 7, 7]
            Assert.Equal(new long[] { 1, 512, 7, 7 }, features.shape);
            float[] actual = features.mean([2, 3]).flatten().data<float>().ToArray();
            double scale = expected.Max(Math.Abs);
            double maxDiff = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
            Assert.True(maxDiff <= 1e-4 * scale, $"max |ONNX − TorchSharp| = {maxDiff:E2}, output scale {scale:E2}");
        }
    }

    [Fact]
    public void ModelOnThePretrainedBackboneRecordsCaffeStyleNormalization()
    {
        string saved = ImageNetResNet18.WeightsDirectory;
        ImageNetResNet18.WeightsDirectory = dir;
        try
        {
            var e = Assert.Throws<ProtoPNetException>(() =>
                ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = "resnet18-imagenet", ImageSize = 64 }, ["a", "b"], 1));
            Assert.Equal("PretrainedWeightsMissing", e.ErrorId);
            ImageNetResNet18.Convert(Onnx, Path.Combine(dir, ImageNetResNet18.WeightsFileName));
            using var model = ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = "resnet18-imagenet", ImageSize = 64 }, ["a", "b"], 1);
            Assert.True(model.Normalization.Bgr);
            Assert.Equal(255f, model.Normalization.Scale);
            Assert.Equal(2, model.FeatureMapSize);
        }
        finally
        {
            ImageNetResNet18.WeightsDirectory = saved;
        }
    }
}
