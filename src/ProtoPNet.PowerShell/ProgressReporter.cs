using System.Collections.Concurrent;
using System.Diagnostics;
using System.Management.Automation;

namespace ProtoPNet.PowerShell;

/// <summary>
/// The cmdlets' one progress helper: Write-Progress for Core work that reports through <see cref="IProgress{T}"/> of
/// <see cref="StageProgress"/>. Only the pipeline thread may call WriteProgress (or WriteObject, WriteError): reports
/// made on it are written at once; reports from work started with <see cref="Run{T}"/> on a worker thread queue up and
/// the pipeline thread writes them while it waits. Records are throttled (a few per second) because rendering
/// progress costs more than a training batch on small models.
/// </summary>
internal sealed class ProgressReporter : IProgress<StageProgress>
{
    private readonly Cmdlet cmdlet;
    private readonly int activityId;
    private readonly string activity;
    private readonly Func<StageProgress, string> status;
    private readonly int pipelineThread = Environment.CurrentManagedThreadId;
    private readonly ConcurrentQueue<StageProgress> queued = new();
    private readonly Stopwatch sinceLast = Stopwatch.StartNew();
    private bool written;

    /// <param name="cmdlet">The cmdlet whose pipeline thread writes the progress.</param>
    /// <param name="activity">The progress bar's activity line.</param>
    /// <param name="activityId">Its id (cmdlets that run one inside another use different ids).</param>
    /// <param name="status">The status line of a report; by default "Activity: done/total".</param>
    public ProgressReporter(Cmdlet cmdlet, string activity, int activityId = 1, Func<StageProgress, string>? status = null)
    {
        this.cmdlet = cmdlet;
        this.activity = activity;
        this.activityId = activityId;
        this.status = status ?? (p => string.IsNullOrEmpty(p.Activity) ? $"{p.Done}/{p.Total}" : $"{p.Activity}: {p.Done}/{p.Total}");
    }

    public void Report(StageProgress value)
    {
        if (Environment.CurrentManagedThreadId == pipelineThread) Write(value);
        else queued.Enqueue(value);
    }

    private void Write(StageProgress p) => Report(status(p), p.Done, p.Total, p.Remaining);

    /// <summary>A report made on the pipeline thread with its own status line (work that does not report a <see cref="StageProgress"/>).</summary>
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

    /// <summary>Runs <paramref name="work"/> on a worker thread (give it this reporter as its progress) while the pipeline
    /// thread writes the progress it reports; returns its result or rethrows its exception.</summary>
    public T Run<T>(Func<T> work)
    {
        var task = Task.Run(work);
        while (!task.Wait(50)) WriteQueued();
        WriteQueued();
        return task.GetAwaiter().GetResult();
    }

    private void WriteQueued()
    {
        StageProgress? last = null;
        while (queued.TryDequeue(out var p)) last = p;
        if (last is StageProgress p1) Write(p1);
    }

    public void Complete()
    {
        if (!written) return;
        cmdlet.WriteProgress(new ProgressRecord(activityId, activity, "Done") { RecordType = ProgressRecordType.Completed });
    }
}
