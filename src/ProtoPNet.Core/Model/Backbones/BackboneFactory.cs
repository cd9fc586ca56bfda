namespace ProtoPNet.Model.Backbones;

/// <summary>Builds a backbone by name, with random initialization (weights are loaded separately).</summary>
public static class BackboneFactory
{
    private static readonly Dictionary<string, Func<Backbone>> Builders = new(StringComparer.OrdinalIgnoreCase)
    {
        ["smallcnn"] = () => new SmallCnn(),
    };

    public static IReadOnlyCollection<string> Names => Builders.Keys;

    public static Backbone Create(string name)
    {
        if (!Builders.TryGetValue(name, out var build))
            throw new ProtoPNetException("UnknownBackbone", ErrorKind.InvalidArgument,
                $"Unknown backbone '{name}'. Known backbones: {string.Join(", ", Names)}.", name);
        return build();
    }
}
