using System.Management.Automation;
using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Evaluation;

namespace ProtoPNet.PowerShell;

/// <summary>Top-1, top-5 and per-class accuracy and the confusion matrix of a model on a dataset.</summary>
[Cmdlet(VerbsDiagnostic.Test, "ProtoPNet")]
[OutputType(typeof(EvaluationResult))]
public sealed class TestProtoPNetCommand : ProtoPNetCmdlet
{
    /// <summary>A model, or an ensemble from Join-ProtoPNet.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public IClassifier Model { get; set; } = null!;

    [Parameter(Mandatory = true, Position = 0)]
    public ImageDataset Dataset { get; set; } = null!;

    [Parameter] [ValidateRange(1, 1 << 20)] public int BatchSize { get; set; } = 100;

    /// <summary>Only the items of this shard: item i belongs to shard i mod ShardCount (0-based; default 0).</summary>
    [Parameter] [ValidateRange(0, int.MaxValue)] public int ShardIndex { get; set; }

    /// <summary>Split the data set into this many shards (default 1: all items); Merge-ProtoPNetTestResult combines the shards' results.</summary>
    [Parameter] [ValidateRange(1, int.MaxValue)] public int ShardCount { get; set; } = 1;

    /// <summary>
    /// The backbone's arithmetic for this test: Float32 (default, the model's own computation) or BFloat16 (faster on
    /// CPUs with native bfloat16; features within about 1 % of float32's, so a few predictions near a tie can change).
    /// </summary>
    [Parameter] public ComputePrecision Precision { get; set; } = ComputePrecision.Float32;

    protected override void ProcessRecord()
    {
        var progress = new ProgressReporter(this, $"Testing {Model.Name} on {Dataset.Name}", status: p => $"{p.Done}/{p.Total} images");
        try
        {
            var result = Run(() => ModelEvaluator.Evaluate(Model, Dataset, BatchSize, null, progress, Cancel, ShardIndex, ShardCount, Precision));
            if (result.Skipped > 0) WriteWarning($"{result.Skipped} images could not be loaded and were not counted.");
            WriteObject(result);
        }
        finally
        {
            progress.Complete();
        }
    }
}
