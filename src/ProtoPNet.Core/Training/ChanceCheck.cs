namespace ProtoPNet.Training;

/// <summary>
/// Tells a run that did not learn from one that did: the last epoch's training accuracy within three standard errors
/// (at least two points) of always answering the most frequent class. When it is, the warning names the likely cause
/// from what the run did, because "accuracy 12 %" alone sends users looking in the wrong place.
/// </summary>
public static class ChanceCheck
{
    /// <summary>Accuracy of always answering the most frequent class.</summary>
    public static double ChanceAccuracy(int[] countPerClass)
    {
        long total = countPerClass.Sum(c => (long)c);
        return total == 0 ? 0 : countPerClass.Max() / (double)total;
    }

    /// <summary>Whether <paramref name="accuracy"/> over <paramref name="count"/> images is indistinguishable from <paramref name="chance"/>.</summary>
    public static bool AtChance(double accuracy, double chance, long count)
    {
        double standardError = Math.Sqrt(chance * (1 - chance) / Math.Max(1, count));
        return accuracy <= chance + Math.Max(0.02, 3 * standardError);
    }

    /// <summary>The warning for a run whose last epoch is at chance, or null when it learned (or nothing ran).</summary>
    public static string? Warning(IReadOnlyList<TrainingEpochResult> epochs, int[] countPerClass, TrainingOptions options, bool backbonePretrained)
    {
        if (epochs.Count == 0) return null;
        var last = epochs[^1];
        double chance = ChanceAccuracy(countPerClass);
        long seen = countPerClass.Sum(c => (long)c);
        if (!AtChance(last.TrainAccuracy, chance, seen)) return null;

        var causes = new List<string>();
        var first = epochs[0];
        // Collapse: every patch next to every prototype, so the distances carry no class information.
        if (last.Cluster < 0.1 && last.Separation < 0.1 && last.Separation < 0.2 * Math.Max(first.Separation, 1e-9))
            causes.Add($"the latent patches collapsed onto the prototypes (cluster cost {last.Cluster:G3}, separation cost {last.Separation:G3}: " +
                       "every patch is as near to every prototype); lower -ClusterCoefficient or raise the backbone's learning rate");
        var backbone = options.Phases.SelectMany(p => p.Groups).Where(g => g.Group == ParameterGroup.Backbone).ToArray();
        if (!backbonePretrained)
        {
            if (backbone.Length == 0)
                causes.Add("the backbone starts from random weights and never trained (no joint epochs): give -Epochs, or load weights with New-ProtoPNet -Weights");
            else if (backbone.Max(g => g.LearningRate) < 1e-3)
                causes.Add($"the backbone starts from random weights but learns at {backbone.Max(g => g.LearningRate):G3}, a rate meant for ImageNet-pretrained backbones; try -BackboneLearningRate 3e-3");
            // Warm epochs only train on meaningless features when no backbone epochs came before them.
            int firstLearning = options.Phases.ToList().FindIndex(p => p.Epochs > 0 && p.Trains(ParameterGroup.Backbone));
            if (options.Phases.Where((p, i) => p.Epochs > 0 && !p.Trains(ParameterGroup.Backbone) && (firstLearning < 0 || i < firstLearning)).Any())
                causes.Add("warm epochs on a random, frozen backbone train the add-on on features that mean nothing; use -WarmEpochs 0");
        }
        if (Math.Abs(last.CrossEntropy - Math.Log(countPerClass.Count(c => c > 0))) < 0.05)
            causes.Add($"the cross-entropy ({last.CrossEntropy:G3}) is that of a uniform guess: the logits do not depend on the image");
        if (causes.Count == 0) causes.Add("too few epochs or images for a backbone that starts from random weights: train longer (-BackboneEpochs, -Epochs), or check that the labels match the images");
        return $"Training ended at chance: training accuracy {last.TrainAccuracy:P1} in the last epoch, where always answering the most frequent class " +
               $"gives {chance:P1}. Likely cause: {string.Join("; ", causes)}.";
    }
}
