using System.Collections.ObjectModel;
using System.Management.Automation;
using ProtoPNet.Data;
using ProtoPNet.Explanation;
using ProtoPNet.Model;

namespace ProtoPNet.PowerShell;

/// <summary>
/// "This part of your image looks like that prototypical part": one row per (image, evidence item), ranked by
/// contribution to the predicted class. Images are explained in batches in input order; a missing or undecodable
/// image gives one error record and the rest are explained. Concurrent calls on one model (ForEach-Object -Parallel)
/// are safe: forward passes queue on the model's SyncRoot.
/// </summary>
[Cmdlet(VerbsCommon.Get, "Explanation", DefaultParameterSetName = PathSet)]
[OutputType(typeof(ExplanationRow))]
public sealed class GetExplanationCommand : PathInputCmdlet
{
    private const string DatasetSet = "Dataset";

    /// <summary>Explain dataset items instead of files; TrueClass is then filled.</summary>
    [Parameter(Mandatory = true, ParameterSetName = DatasetSet)]
    public ImageDataset Dataset { get; set; } = null!;

    /// <summary>Only these dataset items (default: all).</summary>
    [Parameter(ParameterSetName = DatasetSet)]
    public int[]? Index { get; set; }

    /// <summary>Only the items of this shard: item i belongs to shard i mod ShardCount (0-based; default 0).</summary>
    [Parameter(ParameterSetName = DatasetSet)] [ValidateRange(0, int.MaxValue)] public int ShardIndex { get; set; }

    /// <summary>Split the data set into this many shards (default 1: all items); see ShardIndex.</summary>
    [Parameter(ParameterSetName = DatasetSet)] [ValidateRange(1, int.MaxValue)] public int ShardCount { get; set; } = 1;

    /// <summary>A model, or an ensemble from Join-ProtoPNet.</summary>
    [Parameter(Mandatory = true)]
    public IClassifier Model { get; set; } = null!;

    /// <summary>Rows per image; 0 = every prototype (their contributions add up to the logit).</summary>
    [Parameter] [ValidateRange(0, int.MaxValue)] public int Top { get; set; } = 10;

    /// <summary>Explain this class instead of the predicted one (Weight, Contribution and ExplainedLogit refer to it).</summary>
    [Parameter] public string? Class { get; set; }

    /// <summary>Rank by similarity over all prototypes of any class: the image's nearest prototypes.</summary>
    [Parameter] public SwitchParameter Nearest { get; set; }

    /// <summary>Write heat maps, prototype pictures and an HTML scoring sheet per image (plus index.html) here.</summary>
    [Parameter] public string? OutputDirectory { get; set; }

    /// <summary>The push dataset, to draw prototypes whose source is an item of a container file (IDX).</summary>
    [Parameter] public ImageDataset? PushDataset { get; set; }

    [Parameter] [ValidateRange(1, 4096)] public int BatchSize { get; set; } = 32;

    /// <summary>
    /// What BoxX… and PrototypeBoxX… hold and the scoring sheet draws: ReceptiveField (default), the input window of the
    /// best-matching latent patch; Percentile, the paper's 95th-percentile box of the upsampled activation map.
    /// </summary>
    [Parameter] public BoxMethod BoxMethod { get; set; } = BoxMethod.ReceptiveField;

    private Explainer explainer = null!;
    private ProgressReporter progress = null!;
    private readonly List<ExplanationSource> pending = new();
    private int explained;
    private int total; // images to explain, known for -Dataset only (0: no progress bar)

    protected override void BeginProcessing()
    {
        var options = new ExplanationOptions
        {
            Top = Top,
            Class = Class,
            Nearest = Nearest,
            OutputDirectory = OutputDirectory is null ? null : ResolveNewPath(OutputDirectory),
            PushDataset = PushDataset,
            BoxMethod = BoxMethod,
        };
        explainer = Run(() => new Explainer(Model, options));
        progress = new ProgressReporter(this, "Get-Explanation", status: p => $"{p.Done:N0} of {p.Total:N0} images");
    }

    protected override void ProcessRecord()
    {
        switch (ParameterSetName)
        {
            case DatasetSet:
                var indices = ShardCount == 1 && Index is not null ? Index : Run(() => DatasetShard.Select(Dataset.Count, Index, ShardIndex, ShardCount));
                total = indices.Length;
                foreach (int i in indices)
                {
                    if (i < 0 || i >= Dataset.Count)
                    {
                        WriteError(new ProtoPNetException("IndexOutOfRange", ErrorKind.InvalidArgument,
                            $"Dataset '{Dataset.Name}' has {Dataset.Count} items; index {i} does not exist.", i));
                        continue;
                    }
                    Enqueue(ExplanationSource.FromDataset(Dataset, i));
                }
                break;
            default:
                foreach (var r in ResolveInputPaths("ImageNotFound")) Enqueue(new ExplanationSource(r));
                break;
        }
    }

    protected override void EndProcessing()
    {
        Flush();
        if (running is not null) WriteResults(Finish(ref running));
        progress.Complete();
        Run(() => explainer.Finish());
        if (OutputDirectory is not null) WriteVerbose($"Scoring sheets: {System.IO.Path.Combine(ResolveNewPath(OutputDirectory), "index.html")}");
    }

    private void Enqueue(ExplanationSource source)
    {
        pending.Add(source);
        if (pending.Count >= BatchSize) Flush();
    }

    // One batch is explained on a worker thread while the pipeline thread writes the previous batch's rows
    // downstream (Export-Csv and friends), so the two overlap. Batches still run one at a time, in order.
    private Task<IReadOnlyList<ImageExplanation>>? running;

    private void Flush()
    {
        if (pending.Count == 0) return;
        var batch = pending.ToArray();
        pending.Clear();
        var previous = running is null ? null : Finish(ref running);
        running = Task.Run(() => explainer.Explain(batch, Cancel));
        if (previous is not null) WriteResults(previous);
    }

    private IReadOnlyList<ImageExplanation> Finish(ref Task<IReadOnlyList<ImageExplanation>>? task)
    {
        var t = task!;
        task = null;
        return Run(() => t.GetAwaiter().GetResult());
    }

    // The pipeline thread's part: rows, errors and progress.
    private void WriteResults(IReadOnlyList<ImageExplanation> results)
    {
        foreach (var result in results)
        {
            if (result.Error is not null) WriteError(result.Error);
            else foreach (var row in result.Rows) WriteObject(row);
        }
        explained += results.Count;
        if (total > 0) progress.Report(new StageProgress(explained, total));
    }
}
