using ProtoPNet.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ProtoPNet.Training;

/// <summary>The named parts of a ProtoPNet that train with their own learning rates.</summary>
public enum ParameterGroup { Backbone, AddOn, Prototypes, LastLayer }

public static class ParameterGroups
{
    public static IReadOnlyList<ParameterGroup> All { get; } = Enum.GetValues<ParameterGroup>();

    public static IEnumerable<Parameter> Of(ProtoPNetNetwork network, ParameterGroup group) => group switch
    {
        ParameterGroup.Backbone => network.Backbone.parameters(),
        ParameterGroup.AddOn => network.AddOn.parameters(),
        ParameterGroup.Prototypes => [network.Prototypes],
        ParameterGroup.LastLayer => network.LastLayer.parameters(),
        _ => throw new ArgumentOutOfRangeException(nameof(group)),
    };

    /// <summary>Makes exactly the given groups trainable (requires_grad) and freezes the others.</summary>
    public static void SetTrainable(ProtoPNetNetwork network, IEnumerable<ParameterGroup> trainable)
    {
        var set = trainable.ToHashSet();
        foreach (var group in All)
            foreach (var p in Of(network, group))
                p.requires_grad = set.Contains(group);
    }

    /// <summary>
    /// Puts the network in training mode except for a frozen backbone, which stays in eval mode so that
    /// its BatchNorm running statistics do not move (the authors' code lets them drift during warm epochs).
    /// </summary>
    public static void SetTrainingMode(ProtoPNetNetwork network, bool backboneTrains)
    {
        network.train();
        if (!backboneTrains) network.Backbone.eval();
    }
}
