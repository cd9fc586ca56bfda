using System.Management.Automation;

namespace ProtoPNet.PowerShell;

/// <summary>
/// Common plumbing: Core failures become ErrorRecords with Core's stable error id, Ctrl+C becomes a
/// cancelled token, and paths are resolved through the session so that relative paths and PSDrives work.
/// </summary>
public abstract class ProtoPNetCmdlet : PSCmdlet
{
    private readonly CancellationTokenSource cancellation = new();

    protected CancellationToken Cancel => cancellation.Token;

    protected override void StopProcessing() => cancellation.Cancel();

    internal static ErrorCategory CategoryOf(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
        ErrorKind.InvalidData => ErrorCategory.InvalidData,
        ErrorKind.ObjectNotFound => ErrorCategory.ObjectNotFound,
        ErrorKind.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
        ErrorKind.NotImplemented => ErrorCategory.NotImplemented,
        ErrorKind.OperationStopped => ErrorCategory.OperationStopped,
        ErrorKind.ReadError => ErrorCategory.ReadError,
        ErrorKind.WriteError => ErrorCategory.WriteError,
        _ => ErrorCategory.InvalidOperation,
    };

    internal static ErrorRecord ToErrorRecord(ProtoPNetException e) => new(e, e.ErrorId, CategoryOf(e.Kind), e.Target);

    protected void WriteError(ProtoPNetException e) => WriteError(ToErrorRecord(e));

    protected void ThrowTerminating(ProtoPNetException e) => ThrowTerminatingError(ToErrorRecord(e));

    protected void ThrowTerminating(string errorId, ErrorKind kind, string message, object? target = null) =>
        ThrowTerminating(new ProtoPNetException(errorId, kind, message, target));

    /// <summary>A provider path of an existing file system item, from a literal path.</summary>
    protected string ResolveExistingFile(string literalPath)
    {
        string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(literalPath);
        if (!File.Exists(path))
            ThrowTerminating("FileNotFound", ErrorKind.ObjectNotFound, $"Cannot find file '{path}'.", literalPath);
        return path;
    }

    /// <summary>
    /// Provider paths of -Path (wildcards expanded) or -LiteralPath arguments. A -Path that matches nothing is a
    /// non-terminating ObjectNotFound error with <paramref name="notFoundErrorId"/>, and the other paths go on.
    /// </summary>
    protected IEnumerable<string> ResolveInputPaths(IEnumerable<string> paths, bool literal, string notFoundErrorId)
    {
        foreach (var p in paths)
        {
            if (literal)
            {
                yield return SessionState.Path.GetUnresolvedProviderPathFromPSPath(p);
                continue;
            }
            System.Collections.ObjectModel.Collection<string>? resolved = null;
            try
            {
                resolved = SessionState.Path.GetResolvedProviderPathFromPSPath(p, out _);
            }
            catch (ItemNotFoundException e)
            {
                WriteError(new ErrorRecord(e, notFoundErrorId, ErrorCategory.ObjectNotFound, p));
            }
            foreach (var r in resolved ?? []) yield return r;
        }
    }

    /// <summary>A provider path for a file that may not exist yet.</summary>
    protected string ResolveNewPath(string literalPath) => SessionState.Path.GetUnresolvedProviderPathFromPSPath(literalPath);

    /// <summary>Runs Core work, turning its failures into terminating errors with their error ids.</summary>
    protected T Run<T>(Func<T> work)
    {
        try
        {
            return work();
        }
        catch (ProtoPNetException e)
        {
            ThrowTerminating(e);
            throw; // unreachable: ThrowTerminatingError throws
        }
        catch (OperationCanceledException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, "OperationStopped", ErrorCategory.OperationStopped, null));
            throw;
        }
    }

    protected void Run(Action work) => Run(() => { work(); return 0; });
}
