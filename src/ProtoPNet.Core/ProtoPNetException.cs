namespace ProtoPNet;

/// <summary>What kind of failure an error is; the cmdlet layer maps it onto PowerShell's ErrorCategory.</summary>
public enum ErrorKind
{
    InvalidArgument,
    InvalidData,
    ObjectNotFound,
    ResourceUnavailable,
    NotImplemented,
    InvalidOperation,
    OperationStopped,
    ReadError,
    WriteError,
}

/// <summary>
/// Every failure Core reports on purpose. <see cref="ErrorId"/> is stable: scripts and tests match on it
/// through the ErrorRecord's FullyQualifiedErrorId.
/// </summary>
public class ProtoPNetException : Exception
{
    public ProtoPNetException(string errorId, ErrorKind kind, string message, object? target = null, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
    }

    public string ErrorId { get; }
    public ErrorKind Kind { get; }
    public object? Target { get; }
}
