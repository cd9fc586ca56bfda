using System.Management.Automation;
using ProtoPNet.Data;
using ProtoPNet.LastLayer;
using ProtoPNet.Model;

namespace ProtoPNet.PowerShell;

/// <summary>Stage 3: the convex last-layer problem on the frozen similarity vectors.</summary>
[Cmdlet(VerbsCommon.Optimize, "LastLayer")]
[OutputType(typeof(LastLayerResult), typeof(ProtoPNetModel))]
public sealed class OptimizeLastLayerCommand : ProtoPNetCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public ProtoPNetModel Model { get; set; } = null!;

    [Parameter(Mandatory = true, Position = 0)]
    public ImageDataset Dataset { get; set; } = null!;

    /// <summary>Weight of the L1 penalty on wrong-class connections (the authors' 1e-4).</summary>
    [Parameter] [ValidateRange(0.0, double.MaxValue)] public double Lambda { get; set; } = 1e-4;

    /// <summary>Newton (proximal Newton, exact solve, default; on a working set of weights beyond 4,096 distinct ones), OwlQn (limited-memory quasi-Newton, exact, any size), Fista (proximal gradient, exact but slower) or Adam (the authors' passes, for comparison).</summary>
    [Parameter] public LastLayerMethod Method { get; set; } = LastLayerMethod.Newton;

    [Parameter] [ValidateRange(0.0, double.MaxValue)] public double Tolerance { get; set; } = 1e-4;
    [Parameter] [ValidateRange(1, int.MaxValue)] public int MaxIterations { get; set; } = 5000;
    [Parameter] [ValidateRange(1, 100000)] public int Passes { get; set; } = 20;
    [Parameter] public double LearningRate { get; set; } = 1e-4;
    [Parameter] [ValidateRange(1, 1 << 20)] public int BatchSize { get; set; } = 80;
    [Parameter] public int? Seed { get; set; }

    /// <summary>Emit the model; the result then goes to the information stream (tag LastLayer).</summary>
    [Parameter] public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        if (Method != LastLayerMethod.Adam && (MyInvocation.BoundParameters.ContainsKey(nameof(Passes)) || MyInvocation.BoundParameters.ContainsKey(nameof(LearningRate))))
            ThrowTerminating("ParameterNeedsAdam", ErrorKind.InvalidArgument, "-Passes and -LearningRate apply to -Method Adam only.");
        var options = new LastLayerOptions
        {
            Method = Method, Lambda = Lambda, Tolerance = Tolerance, MaxIterations = MaxIterations,
            Passes = Passes, LearningRate = LearningRate, BatchSize = BatchSize, Seed = Seed,
        };
        var progress = new ProgressReporter(this, $"Optimizing the last layer of {Model.Name}", status: p => $"{p.Activity} ({p.Done}/{p.Total})");
        LastLayerResult result;
        try
        {
            result = Run(() => LastLayerOptimizer.Optimize(Model, Dataset, options, progress, Cancel));
        }
        finally
        {
            progress.Complete();
        }
        if (Method != LastLayerMethod.Adam && !result.Converged)
            WriteWarning($"{result.Method} stopped after {result.Iterations} iterations with optimality {result.Optimality:G3}, above the tolerance {result.Tolerance:G3}. Raise -MaxIterations for an exact solution.");
        WriteVerbose($"Last layer: objective {result.Objective:G6}, optimality {result.Optimality:G3}, wrong-class sparsity {result.WrongClassSparsity:P1}, accuracy {result.Accuracy:P2}.");
        if (PassThru)
        {
            WriteInformation(result, ["LastLayer"]);
            WriteObject(Model);
        }
        else WriteObject(result);
    }
}
