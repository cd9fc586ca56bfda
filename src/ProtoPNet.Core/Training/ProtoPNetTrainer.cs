using ProtoPNet.Data;
using ProtoPNet.Model;

namespace ProtoPNet.Training;

/// <summary>
/// Stage 1 of ProtoPNet training (paper §2.2): phases of Adam over CE + λ1·Clst + λ2·Sep + λ3·L1, with per-group
/// learning rates, validation-based model selection and resumable checkpoints. Runs on the calling thread.
/// </summary>
public static partial class ProtoPNetTrainer
{
    public const string CheckpointFileName = "checkpoint.ptck";

    public static TrainingSummary Train(ProtoPNetModel model, ImageDataset train, ImageDataset? validation, TrainingOptions options,
        TrainingCallbacks? callbacks = null, CancellationToken cancel = default)
    {
        callbacks ??= new TrainingCallbacks();
        Validate(model, train, validation, options);
        lock (model.SyncRoot)
        {
            var run = new Run(model, train, validation, options, callbacks, cancel);
            try
            {
                return run.Execute();
            }
            finally
            {
                run.Dispose();
            }
        }
    }

    private static void Validate(ProtoPNetModel model, ImageDataset train, ImageDataset? validation, TrainingOptions options)
    {
        ClassNameCheck.RequireSameClasses(model, train);
        if (validation is not null) ClassNameCheck.RequireSameClasses(model, validation);
        if (train.Count == 0)
            throw new ProtoPNetException("EmptyDataset", ErrorKind.InvalidArgument, $"Training dataset '{train.Name}' has no images.", train.Name);
        if (options.BatchSize < 1)
            throw new ProtoPNetException("InvalidBatchSize", ErrorKind.InvalidArgument, "BatchSize must be at least 1.", options.BatchSize);
        if (options.Phases.Count == 0 || options.Phases.Any(p => p.Epochs < 0) || options.Phases.Sum(p => p.Epochs) == 0)
            throw new ProtoPNetException("NoEpochs", ErrorKind.InvalidArgument, "Nothing to train: give at least one warm or joint epoch.");
        if (options.Phases.FirstOrDefault(p => p.PooledHead && !p.Trains(ParameterGroup.Backbone)) is { } pooled)
            throw new ProtoPNetException("PooledHeadWithoutBackbone", ErrorKind.InvalidArgument,
                $"Phase '{pooled.Name}' trains the pooled head, which only teaches the backbone: it must train the Backbone group.", pooled.Name);
        foreach (var g in options.Phases.SelectMany(p => p.Groups))
            if (!(g.LearningRate > 0) || g.WeightDecay < 0 || double.IsNaN(g.WeightDecay))
                throw new ProtoPNetException("InvalidLearningRate", ErrorKind.InvalidArgument,
                    $"Learning rate {g.LearningRate} / weight decay {g.WeightDecay} of group {g.Group} is not valid: the rate must be positive, the decay not negative.", g.Group);
        if (options.Resume && options.CheckpointDirectory is null)
            throw new ProtoPNetException("ResumeNeedsCheckpointDirectory", ErrorKind.InvalidArgument, "-Resume needs -CheckpointDirectory.");
    }

    /// <summary>The visiting order of epoch <paramref name="epoch"/>: a Fisher–Yates shuffle seeded by (seed, epoch), so a resumed run replays it.</summary>
    public static int[] ShuffleOrder(int seed, int epoch, int count)
    {
        var random = new Random(SeedMix.Combine(seed, epoch, 0x5EED));
        var order = Enumerable.Range(0, count).ToArray();
        for (int i = count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
