using System.Diagnostics;
using System.Management.Automation;

namespace ProtoPNet.PowerShell;

/// <summary>
/// Write-Progress for Core work that reports through synchronous callbacks on the pipeline thread. Records are
/// throttled (a few per second) because rendering progress costs more than a training batch on small models.
/// </summary>
internal sealed class ProgressReporter
{
    private readonly Cmdlet cmdlet;
    private readonly int activityId;
    private readonly string activity;
    private readonly Stopwatch sinceLast = Stopwatch.StartNew();
    private bool written;

    public ProgressReporter(Cmdlet cmdlet, string activity, int activityId = 1)
    {
        this.cmdlet = cmdlet;
        this.activity = activity;
        this.activityId = activityId;
    }

    public void Report(string status, int done, int total, TimeSpan? remaining = null, bool force = false)
    {
        if (!force && written && sinceLast.ElapsedMilliseconds < 250) return;
        sinceLast.Restart();
        written = true;
        var record = new ProgressRecord(activityId, activity, string.IsNullOrEmpty(status) ? activity : status)
        {
            PercentComplete = total > 0 ? Math.Clamp((int)(100L * done / total), 0, 100) : -1,
        };
        if (remaining is TimeSpan r && r.TotalSeconds is > 0 and < int.MaxValue) record.SecondsRemaining = (int)r.TotalSeconds;
        cmdlet.WriteProgress(record);
    }

    public void Complete()
    {
        if (!written) return;
        cmdlet.WriteProgress(new ProgressRecord(activityId, activity, "Done") { RecordType = ProgressRecordType.Completed });
    }
}
