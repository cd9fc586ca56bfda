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
    /// Puts the network in training mode, the backbone too unless <paramref name="backboneInTrainMode"/> is false: a frozen
    /// backbone in eval mode keeps its BatchNorm running statistics and normalizes with them (<see cref="WarmBatchNorm"/>).
    /// </summary>
    public static void SetTrainingMode(ProtoPNetNetwork network, bool backboneInTrainMode)
    {
        network.train();
        if (!backboneInTrainMode) network.Backbone.eval();
    }
}
