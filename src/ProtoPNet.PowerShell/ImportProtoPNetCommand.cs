using System.Collections.ObjectModel;
using System.Management.Automation;
using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Persistence;

namespace ProtoPNet.PowerShell;

[Cmdlet(VerbsData.Import, "ProtoPNet", DefaultParameterSetName = PathSet)]
[OutputType(typeof(ProtoPNetModel), typeof(ProtoPNetEnsemble))]
public sealed class ImportProtoPNetCommand : PathInputCmdlet
{
    private const string PyTorchSet = "PyTorch";

    /// <summary>A state dict saved by the authors' PyTorch code (see the README for the two lines that make one).</summary>
    [Parameter(Mandatory = true, ParameterSetName = PyTorchSet)]
    public string PyTorchStateDict { get; set; } = "";

    [Parameter(ParameterSetName = PyTorchSet)]
    [ArgumentCompleter(typeof(BackboneCompleter))]
    public string? Backbone { get; set; }

    [Parameter(ParameterSetName = PyTorchSet)] [ValidateRange(8, 4096)] public int ImageSize { get; set; } = 224;
    [Parameter(ParameterSetName = PyTorchSet)] public string[]? ClassName { get; set; }
    [Parameter(ParameterSetName = PyTorchSet)] public SimilarityKind Similarity { get; set; } = SimilarityKind.Log;

    /// <summary>The authors' push records (bb*.npy) to attach as prototype provenance.</summary>
    [Parameter(ParameterSetName = PyTorchSet)] public string? PushRecords { get; set; }

    /// <summary>The push dataset those records index into (same folder, same order), to name source images.</summary>
    [Parameter(ParameterSetName = PyTorchSet)] public ImageDataset? PushDataset { get; set; }

    [Parameter] public string Device { get; set; } = "cpu";

    protected override void ProcessRecord()
    {
        if (ParameterSetName == PyTorchSet)
        {
            ImportPyTorch();
            return;
        }
        foreach (string path in ResolveInputPaths("ModelFileNotFound"))
        {
            try
            {
                WriteObject(ModelFile.LoadAny(path, Device));
            }
            catch (ProtoPNetException e)
            {
                WriteError(e);
            }
        }
    }

    private void ImportPyTorch()
    {
        string path = ResolveExistingFile(PyTorchStateDict);
        string? records = PushRecords is null ? null : ResolveExistingFile(PushRecords);
        var model = Run(() => PyTorchStateDictImport.Load(path, new PyTorchImportOptions
        {
            Backbone = Backbone?.ToLowerInvariant(), ImageSize = ImageSize, Similarity = Similarity, ClassNames = ClassName,
        }));
        if (records is not null)
        {
            int attached = Run(() => AuthorsPushRecords.Attach(model, records, PushDataset));
            WriteVerbose($"Attached push provenance to {attached} of {model.PrototypeCount} prototypes.");
        }
        if (Device != "cpu") Run(() => model.MoveTo(Device));
        WriteObject(model);
    }

}
