@{
    Synopsis    = 'Lists a model''s prototypes: class, and after push the training image and patch each one was projected onto.'
    Description = @'
One object per prototype with Index, Class, SourceImage (empty before push), LatentRow, LatentColumn, BoxX, BoxY, BoxWidth, BoxHeight (the patch''s 95th-percentile box in the source image''s own pixels) and Distance (how far push moved the prototype).
'@
    Parameters  = @{
        Model = 'The model; accepts pipeline input.'
        Class = 'Only the prototypes of these classes.'
    }
    Examples    = @(
        @{ Code = '$model | Get-Prototype | Format-Table'; Remarks = 'Every prototype with its provenance.' }
        @{ Code = '$model | Get-Prototype -Class Sandal | Sort-Object Distance -Descending | Select-Object -First 3'; Remarks = 'The Sandal prototypes that moved most at push.' }
    )
}
