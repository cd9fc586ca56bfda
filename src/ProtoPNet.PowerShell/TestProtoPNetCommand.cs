using System.Management.Automation;
using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Training;

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

    protected override void ProcessRecord()
    {
        var progress = new ProgressReporter(this, $"Testing {Model.Name} on {Dataset.Name}", status: p => $"{p.Done}/{p.Total} images");
        try
        {
            var result = Run(() => ModelEvaluator.Evaluate(Model, Dataset, BatchSize, null, progress, Cancel));
            if (result.Skipped > 0) WriteWarning($"{result.Skipped} images could not be loaded and were not counted.");
            WriteObject(result);
        }
        finally
        {
            progress.Complete();
        }
    }
}
