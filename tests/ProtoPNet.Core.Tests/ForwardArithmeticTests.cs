using ProtoPNet.Benchmarks;
using ProtoPNet.Model;
using ProtoPNet.Model.Backbones;
using Xunit;

namespace ProtoPNet.Tests;

/// <summary>The hand count of a forward pass's multiply-adds that scripts/bench-roofline.ps1 builds its bounds on.</summary>
public class ForwardArithmeticTests
{
    [Fact]
    public void ResNet18CountsTorchvisionsMultiplyAdds()
    {
        // torchvision's resnet18 at 224×224: 1,814,073,344 multiply-adds, of which its fc head 512·1000.
        Assert.Equal(1_814_073_344 - 512_000, ForwardArithmetic.ResNet18(224).Sum(l => l.MultiplyAdds));
        // At 64×64 every feature map is 2/7 the side of 224×224's (32, 16, 8, 4, 2 against 112, 56, 28, 14, 7).
        Assert.Equal(148_045_824, ForwardArithmetic.ResNet18(64).Sum(l => l.MultiplyAdds));
    }

    [Theory]
    [InlineData("resnet18", 64)]
    [InlineData("smallcnn", 28)]
    public void CountListsTheModelsConvolutions(string name, int imageSize)
    {
        using var backbone = BackboneFactory.Create(name, pretrained: false);
        var model = backbone.named_modules()
            .Where(m => m.module is MixedPrecisionConv2d)
            .ToDictionary(m => Short(m.name), m => ((MixedPrecisionConv2d)m.module).Weight.numel());
        var counted = ForwardArithmetic.Backbone(name, imageSize);
        Assert.Equal(model.OrderBy(p => p.Key), counted.ToDictionary(l => l.Layer, l => l.Weights).OrderBy(p => p.Key));
        // The last convolution's output is the backbone's feature map (smallcnn pools it once more).
        int featureMap = name == "smallcnn" ? counted[^1].OutputSize / 2 : counted[^1].OutputSize;
        Assert.Equal(backbone.FeatureMapSize(imageSize), featureMap);
    }

    // "layer2.0.downsample.0" → "layer2.0.downsample"; smallcnn's "features.conv1" → "conv1".
    private static string Short(string name) =>
        (name.EndsWith(".0") ? name[..^2] : name).Replace("features.", "");

    [Fact]
    public void HeadCountsTheAddOnDistancesAndLastLayer()
    {
        using var model = ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = "resnet18", ImageSize = 64 },
            Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray(), prototypesPerClass: 10, seed: 1);
        var head = ForwardArithmetic.Head(model);
        // Bottleneck add-on on 2×2 features: 512→256, 256→256, 256→128, 128→128.
        Assert.Equal(4 * (512 * 256 + 256 * 256 + 256 * 128 + 128 * 128), head.Where(l => l.Layer.StartsWith("add-on")).Sum(l => l.MultiplyAdds));
        Assert.Equal(4 * 100 * 128, head.Single(l => l.Layer == "prototype distances").MultiplyAdds);
        Assert.Equal(100 * 10, head.Single(l => l.Layer == "last layer").MultiplyAdds);
    }
}
