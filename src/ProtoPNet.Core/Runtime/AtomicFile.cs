namespace ProtoPNet.Runtime;

/// <summary>
/// Writes a file so that readers only ever see the old file or the complete new one: the bytes go to a
/// temporary file beside the target (<c>.NAME.&lt;guid&gt;.tmp</c>), are flushed to disk, and the temporary file is
/// renamed over the target. A crash or cancellation before the rename leaves the old file untouched; a cancellation
/// removes the temporary file, and a process killed outright leaves it to the next write of the same target.
/// </summary>
/// <remarks>
/// The writer holds its temporary file with <see cref="FileShare.None"/> while it writes: an exclusive lock that dies
/// with the process (flock on Unix, the share mode on Windows). Before writing,
/// the temporaries of the same target whose lock can be taken, that is those no live process owns, are removed.
/// </remarks>
public static class AtomicFile
{
    /// <param name="durable">False skips the flush to disk (one fsync per file): for files that can be made again, such as
    /// pictures, written by the thousand. The rename still keeps readers from seeing a half-written file.</param>
    public static void Write(string path, Action<Stream> write, CancellationToken cancel = default, bool durable = true)
    {
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(directory);
        RemoveStaleTemporaries(full);
        string temp = TemporaryPath(full, Guid.NewGuid());
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

    /// <summary>The temporary file a writer of <paramref name="target"/> uses: hidden, beside it, unique per write.</summary>
    public static string TemporaryPath(string target, Guid id)
    {
        string full = Path.GetFullPath(target);
        return Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{id:N}.tmp");
    }

    /// <summary>
    /// Removes the temporary files of <paramref name="target"/> that a killed writer left: those whose exclusive lock can be
    /// taken. A temporary file a live writer holds is left alone. Returns how many were removed.
    /// </summary>
    public static int RemoveStaleTemporaries(string target)
    {
        string full = Path.GetFullPath(target);
        string directory = Path.GetDirectoryName(full)!;
        string prefix = $".{Path.GetFileName(full)}.";
        int removed = 0;
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateFiles(directory, "*.tmp").ToList();
        }
        catch (IOException) { return 0; }
        catch (UnauthorizedAccessException) { return 0; }
        foreach (string candidate in candidates)
        {
            string name = Path.GetFileName(candidate);
            if (!name.StartsWith(prefix, StringComparison.Ordinal) || name.Length != prefix.Length + 32 + 4) continue;
            if (!Guid.TryParseExact(name.AsSpan(prefix.Length, 32), "N", out _)) continue;
            try
            {
                // Taking the lock proves no live writer holds the file; DeleteOnClose removes it while the lock is still ours.
                using var stale = new FileStream(candidate, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
                removed++;
            }
            catch (IOException) { }                     // held by a live writer, or gone already
            catch (UnauthorizedAccessException) { }     // not ours to remove
        }
        return removed;
    }
}
