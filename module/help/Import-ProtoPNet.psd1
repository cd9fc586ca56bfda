@{
    Synopsis    = 'Loads models saved by Export-ProtoPNet.'
    Description = @'
Reads .ptpn files. The signature, format version, length and SHA-256 checksum are verified before anything is parsed: a truncated file (TruncatedModelFile), a corrupted one (CorruptModelFile), a file of another kind (NotAProtoPNetFile) or of a newer format (UnsupportedModelFileVersion) is reported as a non-terminating error and the next file is read.
'@
    Parameters  = @{
        Path        = 'Model files; wildcards allowed.'
        LiteralPath = 'Model files, taken literally; binds PSPath, so Get-ChildItem output pipes in.'
        Device      = 'Where to load the weights: cpu (default) or cuda.'
    }
    Examples    = @(
        @{ Code = '$model = Import-ProtoPNet ./bird.ptpn'; Remarks = 'Loads one model.' }
        @{ Code = 'Get-ChildItem ./runs/*.ptpn | Import-ProtoPNet | Format-Table Name, Backbone, PrototypeCount'; Remarks = 'Loads every model of a folder.' }
    )
}
