@{
    Synopsis    = 'Saves a model (or an ensemble) to one .ptpn file.'
    Description = @'
Writes the architecture, class names, normalization, all weights, prototype provenance and training history to one versioned file with a SHA-256 checksum. The file is written to a temporary file beside the target and renamed over it, so a crash or Ctrl+C leaves the previous file intact. Like Export-Csv, an existing file is overwritten unless -NoClobber is given; -Force overwrites a read-only file.
'@
    Parameters  = @{
        Model       = 'The model, or an ensemble from Join-ProtoPNet (stored with all its members in one file); accepts pipeline input.'
        Path        = 'The file to write.'
        LiteralPath = 'The file to write, taken literally (no wildcard characters).'
        NoClobber   = 'Do not overwrite an existing file.'
        Force       = 'Overwrite a read-only file.'
        PassThru    = 'Emit the written file as a FileInfo.'
    }
    Examples    = @(
        @{ Code = '$model | Export-ProtoPNet ./bird.ptpn'; Remarks = 'Saves a model.' }
        @{ Code = '$model | Export-ProtoPNet ./bird.ptpn -NoClobber'; Remarks = 'Refuses to replace an existing file (error id NoClobber).' }
    )
}
