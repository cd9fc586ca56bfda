@{
    RootModule           = 'bin/ProtoPNet.PowerShell.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '7c0b8d3e-3f7a-4d0e-9a5c-1e2f3b4c5d6e'
    Author               = 'ProtoPNet.PS developers'
    Description          = 'Train and explain ProtoPNet ("This Looks Like That") image classifiers with TorchSharp.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('module/ProtoPNet.Format.ps1xml')
    CmdletsToExport      = @(
        'New-ProtoPNet'
        'Export-ProtoPNet'
        'Import-ProtoPNet'
        'Get-Prototype'
        'Import-ProtoPNetDataset'
        'Split-ProtoPNetDataset'
        'Expand-ProtoPNetDataset'
        'Start-ProtoPNetTraining'
        'Invoke-PrototypePush'
        'Optimize-LastLayer'
        'Test-ProtoPNet'
        'Merge-ProtoPNetTestResult'
        'Get-Explanation'
        'Find-NearestPatch'
        'Invoke-PrototypePruning'
        'Join-ProtoPNet'
        'Measure-ProtoPNetInterpretability'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{ PSData = @{ Tags = @('ProtoPNet', 'interpretability', 'TorchSharp', 'deep-learning') } }
}
