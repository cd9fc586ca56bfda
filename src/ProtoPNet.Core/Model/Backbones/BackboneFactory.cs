namespace ProtoPNet.Model.Backbones;

/// <summary>Builds a backbone by name, with random initialization (weights are loaded separately).</summary>
public static class BackboneFactory
{
    private static readonly Dictionary<string, Func<Backbone>> Builders = new(StringComparer.OrdinalIgnoreCase)
    {
        ["vgg11"] = () => new Vgg(11, false),
        ["vgg11_bn"] = () => new Vgg(11, true),
        ["vgg13"] = () => new Vgg(13, false),
        ["vgg13_bn"] = () => new Vgg(13, true),
        ["vgg16"] = () => new Vgg(16, false),
        ["vgg16_bn"] = () => new Vgg(16, true),
        ["vgg19"] = () => new Vgg(19, false),
        ["vgg19_bn"] = () => new Vgg(19, true),
        ["resnet18"] = () => new ResNet(18),
        ["resnet34"] = () => new ResNet(34),
        ["resnet50"] = () => new ResNet(50),
        ["resnet101"] = () => new ResNet(101),
        ["resnet152"] = () => new ResNet(152),
        ["densenet121"] = () => new DenseNet(121),
        ["densenet161"] = () => new DenseNet(161),
        ["densenet169"] = () => new DenseNet(169),
        ["densenet201"] = () => new DenseNet(201),
        ["smallcnn"] = () => new SmallCnn(),
        [ImageNetResNet18.Name] = ImageNetResNet18.CreatePretrained,
    };

    /// <summary>Backbones whose construction loads pretrained weights, and how to build them without.</summary>
    private static readonly Dictionary<string, Func<Backbone>> Untrained = new(StringComparer.OrdinalIgnoreCase)
    {
        [ImageNetResNet18.Name] = ImageNetResNet18.CreateUntrained,
    };

    public static IReadOnlyCollection<string> Names => Builders.Keys;

    /// <param name="pretrained">For backbones that come with weights (resnet18-imagenet): load them. A model file
    /// being loaded passes false, since it carries its own weights.</param>
    public static Backbone Create(string name, bool pretrained = true)
    {
        if (!pretrained && Untrained.TryGetValue(name, out var untrained)) return untrained();
        if (!Builders.TryGetValue(name, out var build))
            throw new ProtoPNetException("UnknownBackbone", ErrorKind.InvalidArgument,
                $"Unknown backbone '{name}'. Known backbones: {string.Join(", ", Names)}.", name);
        return build();
    }
}
