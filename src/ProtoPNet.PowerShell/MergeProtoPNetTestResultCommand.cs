using System.Collections;
using System.Management.Automation;
using ProtoPNet.Evaluation;

namespace ProtoPNet.PowerShell;

/// <summary>Combines Test-ProtoPNet results of the shards of one data set into the result of the whole data set.</summary>
[Cmdlet(VerbsData.Merge, "ProtoPNetTestResult")]
[OutputType(typeof(EvaluationResult))]
public sealed class MergeProtoPNetTestResultCommand : ProtoPNetCmdlet
{
    /// <summary>Results of Test-ProtoPNet -ShardIndex k -ShardCount n (or their deserialized copies from remoting), from the pipeline or as an array.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    public PSObject[] InputObject { get; set; } = [];

    /// <summary>Stop with ShardsMissing unless every shard 0 … n−1 is present (default: warn).</summary>
    [Parameter] public SwitchParameter Complete { get; set; }

    private readonly List<EvaluationResult> results = new();

    protected override void ProcessRecord()
    {
        foreach (var item in InputObject) results.Add(ToResult(item));
    }

    protected override void EndProcessing()
    {
        var merged = Run(() => EvaluationResult.Merge(results));
        if (merged.Missing.Length > 0)
        {
            string message = $"Shards {string.Join(", ", merged.Missing)} of {merged.ShardCount} are missing: the result covers {merged.MergedShards} of {merged.ShardCount} shards.";
            if (Complete) ThrowTerminating("ShardsMissing", ErrorKind.InvalidArgument, message, merged.Missing);
            WriteWarning(message);
        }
        WriteObject(merged);
    }

    // A live result, or a deserialized copy (remoting, Import-Clixml): rebuilt from its counts.
    private EvaluationResult ToResult(PSObject item)
    {
        if (item.BaseObject is EvaluationResult r) return r;
        try
        {
            object? Get(string name) => item.Properties[name]?.Value is { } v ? (v is PSObject p ? p.BaseObject : v) : null;
            IEnumerable<object?> Items(string name) => Get(name) is IEnumerable e and not string ? e.Cast<object?>().Select(o => o is PSObject p ? p.BaseObject : o) : throw new InvalidCastException(name);
            return EvaluationResult.FromCounts(
                Convert.ToString(Get("Model")) ?? "", Convert.ToString(Get("Dataset")) ?? "",
                Items("ClassNames").Select(o => Convert.ToString(o) ?? "").ToArray(),
                Items("Confusion").Select(o => Convert.ToInt32(o)).ToArray(),
                Convert.ToInt32(Get("Top5Correct")), Convert.ToInt32(Get("Skipped")), Convert.ToDouble(Get("Seconds")),
                Convert.ToInt32(Get("ShardIndex")), Convert.ToInt32(Get("ShardCount")), Convert.ToInt32(Get("MergedShards")));
        }
        catch (Exception e) when (e is not ProtoPNetException and not PipelineStoppedException)
        {
            ThrowTerminating("NotATestResult", ErrorKind.InvalidArgument, $"'{item}' is not a result of Test-ProtoPNet ({e.Message}).", item);
            throw;
        }
    }
}
