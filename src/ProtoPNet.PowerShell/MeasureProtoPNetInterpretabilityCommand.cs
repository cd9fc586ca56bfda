using System.Management.Automation;
using ProtoPNet.Data;
using ProtoPNet.Interpretability;
using ProtoPNet.Model;

namespace ProtoPNet.PowerShell;

/// <summary>
/// Interpretability metrics of a model on a data set: pointing game, consistency and stability against part
/// annotations, deletion and insertion AUC; one object per metric with its chance level beside it.
/// </summary>
[Cmdlet(VerbsDiagnostic.Measure, "ProtoPNetInterpretability")]
[OutputType(typeof(InterpretabilityMetric), typeof(PrototypeInterpretability))]
public sealed class MeasureProtoPNetInterpretabilityCommand : ProtoPNetCmdlet
{
    /// <summary>A model, or an ensemble from Join-ProtoPNet.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public IClassifier Model { get; set; } = null!;

    [Parameter(Mandatory = true, Position = 0)]
    public ImageDataset Dataset { get; set; } = null!;

    /// <summary>Metrics to compute; default: all that the data allows (the part metrics need CUB parts or -PartsPath).</summary>
    [Parameter] public InterpretabilityMetricKind[]? Metric { get; set; }

    /// <summary>A CSV of part boxes or keypoints: Image,Part,X,Y,Width,Height (Image relative to the CSV's folder).</summary>
    [Parameter] public string? PartsPath { get; set; }

    /// <summary>The pointing game's evidence box: ReceptiveField (default) or Percentile.</summary>
    [Parameter] public BoxMethod BoxMethod { get; set; } = BoxMethod.ReceptiveField;

    [Parameter] public int Seed { get; set; } = 1;

    /// <summary>Also write one row per prototype (after the metric objects).</summary>
    [Parameter] public SwitchParameter PerPrototype { get; set; }

    /// <summary>Write interpretability.html (table, deletion/insertion curves, most and least consistent prototypes) here.</summary>
    [Parameter] public string? OutputDirectory { get; set; }

    [Parameter] [ValidateRange(1, 1 << 16)] public int BatchSize { get; set; } = 64;

    /// <summary>Steps of the deletion and insertion curves.</summary>
    [Parameter] [ValidateRange(20, 1000)] public int Steps { get; set; } = 20;

    private PartAnnotations? parts;

    protected override void BeginProcessing()
    {
        if (MyInvocation.BoundParameters.ContainsKey(nameof(BoxMethod)) && Metric is { Length: > 0 } && !Metric.Contains(InterpretabilityMetricKind.PointingGame))
            ThrowTerminating("BoxMethodNotApplicable", ErrorKind.InvalidArgument,
                "-BoxMethod applies to the pointing game only; add PointingGame to -Metric or leave -BoxMethod out.", BoxMethod);
        if (PartsPath is not null)
        {
            string path = ResolveNewPath(PartsPath);
            parts = Run(() => PartAnnotations.FromCsv(path, Dataset));
            WriteVerbose($"{parts.ImagesWithParts} of {Dataset.Count} images have parts in '{path}' (parts: {string.Join(", ", parts.PartNames)}).");
        }
    }

    protected override void ProcessRecord()
    {
        var progress = new ProgressReporter(this, $"Measuring the interpretability of {Model.Name} on {Dataset.Name}",
            status: p => $"{p.Activity}: {p.Done:N0} of {p.Total:N0} images");
        InterpretabilityReport report;
        try
        {
            var options = new InterpretabilityOptions
            {
                Metrics = Metric,
                Parts = parts,
                BoxMethod = BoxMethod,
                Seed = Seed,
                BatchSize = BatchSize,
                Steps = Steps,
                Cancel = Cancel,
                Progress = progress,
            };
            report = Run(() => InterpretabilityMeter.Measure(Model, Dataset, options));
            if (OutputDirectory is not null)
            {
                string directory = ResolveNewPath(OutputDirectory);
                report.Files = Run(() => InterpretabilityPage.Write(directory, report, Model, Dataset, BoxMethod, Cancel));
                WriteVerbose($"Interpretability page: {report.Files[0]}");
            }
        }
        finally
        {
            progress.Complete();
        }
        foreach (var skipped in report.Skipped) WriteError(skipped.Error);
        foreach (var metric in report.Metrics) WriteObject(metric);
        if (PerPrototype)
            foreach (var row in report.Prototypes) WriteObject(row);
    }
}
