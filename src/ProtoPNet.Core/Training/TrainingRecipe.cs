using ProtoPNet.Model;

namespace ProtoPNet.Training;

/// <summary>
/// What a user asks of stage 1 (Start-ProtoPNetTraining's parameters): every null is filled from the recipe for the
/// model's backbone (<see cref="TrainingDefaults"/>).
/// </summary>
public sealed record TrainingRequest
{
    public int? BackboneEpochs { get; init; }
    public int? WarmEpochs { get; init; }
    public int? Epochs { get; init; }
    public int? BatchSize { get; init; }
    public double? BackboneLearningRate { get; init; }
    public double? AddOnLearningRate { get; init; }
    public double? PrototypeLearningRate { get; init; }
    /// <summary>0 (the authors'): the last layer stays fixed in stage 1.</summary>
    public double LastLayerLearningRate { get; init; }
    /// <summary>Weight decay of the backbone and add-on groups.</summary>
    public double WeightDecay { get; init; } = 1e-3;
    public int? StepSize { get; init; }
    public double? Gamma { get; init; }
    public double CrossEntropyCoefficient { get; init; } = 1.0;
    public double? ClusterCoefficient { get; init; }
    public double? SeparationCoefficient { get; init; }
    public double L1Coefficient { get; init; } = 1e-4;
    public WarmBatchNorm? WarmBatchNorm { get; init; }
}

/// <summary>
/// Turns a <see cref="TrainingRequest"/> into the phases and options a run executes: the recipe for the model's
/// backbone supplies what the request leaves open. The backbone phase follows the backbone, not whether the other
/// phases' lengths were named: a random backbone gets it unless <see cref="TrainingRequest.BackboneEpochs"/> is 0
/// (docs/algorithm.md, "Training from scratch").
/// </summary>
public static class TrainingRecipe
{
    /// <returns>The options (without seed, checkpoints, augmentation and the other run settings) and one line saying what will run.</returns>
    public static (TrainingOptions Options, string Schedule) Build(ProtoPNetModel model, TrainingRequest request)
    {
        var defaults = TrainingDefaults.For(model);
        int backboneEpochs = request.BackboneEpochs ?? defaults.BackboneEpochs;
        int warmEpochs = request.WarmEpochs ?? defaults.WarmEpochs, epochs = request.Epochs ?? defaults.Epochs;
        double addOnLr = request.AddOnLearningRate ?? defaults.AddOnLearningRate, prototypeLr = request.PrototypeLearningRate ?? defaults.PrototypeLearningRate;
        var phases = new List<TrainingPhase>();
        if (backboneEpochs > 0)
            phases.Add(TrainingPhase.Backbone(backboneEpochs, request.BackboneLearningRate ?? defaults.BackbonePhaseLearningRate, request.WeightDecay));
        if (warmEpochs > 0)
        {
            var warm = TrainingPhase.Warm(warmEpochs, addOnLr, prototypeLr);
            phases.Add(warm with { Groups = warm.Groups.Select(g => g.Group == ParameterGroup.AddOn ? g with { WeightDecay = request.WeightDecay } : g).ToArray() });
        }
        if (epochs > 0)
        {
            var joint = TrainingPhase.Joint(epochs, request.BackboneLearningRate ?? defaults.BackboneLearningRate, addOnLr, prototypeLr,
                request.LastLayerLearningRate, request.StepSize ?? defaults.StepSize, request.Gamma ?? defaults.Gamma);
            phases.Add(joint with
            {
                Groups = joint.Groups.Select(g => g.Group is ParameterGroup.Backbone or ParameterGroup.AddOn ? g with { WeightDecay = request.WeightDecay } : g).ToArray(),
            });
        }
        var options = new TrainingOptions
        {
            Phases = phases,
            BatchSize = request.BatchSize ?? defaults.BatchSize,
            Coefficients = new LossCoefficients
            {
                CrossEntropy = request.CrossEntropyCoefficient,
                Cluster = request.ClusterCoefficient ?? defaults.ClusterCoefficient,
                Separation = request.SeparationCoefficient ?? defaults.SeparationCoefficient,
                L1 = request.L1Coefficient,
            },
            WarmBatchNorm = request.WarmBatchNorm ?? defaults.WarmBatchNorm,
        };
        string why = request.BackboneEpochs is null && backboneEpochs > 0 ? " (the backbone starts from random weights; -BackboneEpochs 0 turns them off)" : "";
        return (options, $"Schedule: {backboneEpochs} backbone epochs{why}, {warmEpochs} warm, {epochs} joint.");
    }
}
