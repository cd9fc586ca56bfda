using System.Management.Automation;
using ProtoPNet.Model;
using ProtoPNet.Persistence;

namespace ProtoPNet.PowerShell;

[Cmdlet(VerbsData.Export, "ProtoPNet", SupportsShouldProcess = true, DefaultParameterSetName = PathSet)]
[OutputType(typeof(FileInfo))]
public sealed class ExportProtoPNetCommand : ProtoPNetCmdlet
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    /// <summary>A model, or an ensemble from Join-ProtoPNet (stored with all its members in one file).</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public IClassifier Model { get; set; } = null!;

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet)]
    public string Path { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet)]
    [Alias("PSPath", "LP")]
    public string LiteralPath { get; set; } = "";

    /// <summary>Do not overwrite an existing file.</summary>
    [Parameter] public SwitchParameter NoClobber { get; set; }

    /// <summary>Overwrite a read-only file.</summary>
    [Parameter] public SwitchParameter Force { get; set; }

    [Parameter] public SwitchParameter PassThru { get; set; }

    private int written;

    protected override void ProcessRecord()
    {
        if (++written > 1)
            ThrowTerminating("MultipleModelsToOneFile", ErrorKind.InvalidArgument,
                "Export-ProtoPNet got more than one model for one file. Export each model to its own file (ForEach-Object), or combine them with Join-ProtoPNet.");
        string path = ResolveNewPath(ParameterSetName == PathSet ? Path : LiteralPath);
        if (Directory.Exists(path))
            ThrowTerminating("PathIsDirectory", ErrorKind.InvalidArgument, $"'{path}' is a directory; give a file name such as model.ptpn.", path);
        var existing = new FileInfo(path);
        if (existing.Exists)
        {
            if (NoClobber)
                ThrowTerminating("NoClobber", ErrorKind.ResourceUnavailable,
                    $"The file '{path}' already exists and -NoClobber was given.", path);
            if (existing.IsReadOnly)
            {
                if (!Force)
                    ThrowTerminating("FileReadOnly", ErrorKind.WriteError, $"The file '{path}' is read-only. Use -Force to overwrite it.", path);
            }
        }
        if (!ShouldProcess(path, existing.Exists ? "Overwrite ProtoPNet model file" : "Write ProtoPNet model file")) return;
        if (existing.Exists && existing.IsReadOnly) existing.IsReadOnly = false;
        Run(() => ModelFile.Save(Model, path, Cancel));
        if (PassThru) WriteObject(new FileInfo(path));
    }
}
