using System.Collections.Concurrent;
using System.Management.Automation;

namespace ProtoPNet.PowerShell;

/// <summary>
/// Runs long Core work on a worker thread while the pipeline thread writes its progress: only the pipeline thread
/// may call WriteProgress, so progress reports queue up here and are written as they arrive.
/// </summary>
internal static class BackgroundWork
{
    public static T Run<T>(Cmdlet cmdlet, int activityId, string activity, Func<Action<int, int>, T> work)
    {
        using var reports = new BlockingCollection<(int Done, int Total)>();
        var task = Task.Run(() =>
        {
            try { return work((done, total) => reports.TryAdd((done, total))); }
            finally { reports.CompleteAdding(); }
        });
        foreach (var (done, total) in reports.GetConsumingEnumerable())
            cmdlet.WriteProgress(new ProgressRecord(activityId, activity, $"{done:N0} of {total:N0} images")
            {
                PercentComplete = total > 0 ? Math.Clamp((int)(100L * done / total), 0, 100) : -1,
            });
        cmdlet.WriteProgress(new ProgressRecord(activityId, activity, "Done") { RecordType = ProgressRecordType.Completed });
        return task.GetAwaiter().GetResult();
    }
}
