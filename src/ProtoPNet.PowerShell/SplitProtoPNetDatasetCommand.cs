using System.Management.Automation;
using ProtoPNet.Data;

namespace ProtoPNet.PowerShell;

/// <summary>
/// A seeded, stratified train/validation split of a data set: writes two data sets, the train part then the validation
/// part (<c>$train, $validation = $ds | Split-ProtoPNetDataset -ValidationFraction 0.1 -Seed 1</c>). Each class gives
/// round(fraction × its count) items (at least one) to validation, so model selection never needs the test set.
/// </summary>
[Cmdlet(VerbsCommon.Split, "ProtoPNetDataset")]
[OutputType(typeof(SubsetDataset))]
public sealed class SplitProtoPNetDatasetCommand : ProtoPNetCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    public ImageDataset Dataset { get; set; } = null!;

    [Parameter] [ValidateRange(0.0001, 0.9999)] public double ValidationFraction { get; set; } = 0.1;

    [Parameter] public int Seed { get; set; } = 1;

    protected override void ProcessRecord()
    {
        var (train, validation) = Run(() => DatasetSplit.Stratified(Dataset, ValidationFraction, Seed));
        WriteObject(train);
        WriteObject(validation);
    }
}
