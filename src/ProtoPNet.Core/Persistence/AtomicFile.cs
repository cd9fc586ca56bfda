namespace ProtoPNet.Persistence;

/// <summary>
/// Writes a file so that readers only ever see the old file or the complete new one: the bytes go to a
/// temporary file beside the target, are flushed to disk, and the temporary file is renamed over the target.
/// A crash or cancellation before the rename leaves the old file untouched and the temporary file removed.
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write, CancellationToken cancel = default)
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
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
