namespace ProtoPNet.Persistence;

/// <summary>
/// Writes a file so that readers only ever see the old file or the complete new one: the bytes go to a
/// temporary file beside the target, are flushed to disk, and the temporary file is renamed over the target.
/// A crash or cancellation before the rename leaves the old file untouched and the temporary file removed.
/// </summary>
public static class AtomicFile
{
    /// <param name="durable">False skips the flush to disk (one fsync per file): for files that can be made again, such as
    /// pictures, written by the thousand. The rename still keeps readers from seeing a half-written file.</param>
    public static void Write(string path, Action<Stream> write, CancellationToken cancel = default, bool durable = true)
    {
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(directory);
        string temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(stream);
                cancel.ThrowIfCancellationRequested();
                stream.Flush(flushToDisk: durable);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
