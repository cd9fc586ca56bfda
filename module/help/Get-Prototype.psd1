@{
    Synopsis    = 'Lists a model''s prototypes: class, and after push the training image and patch each one was projected onto.'
    Description = @'
One object per prototype with Index, Class, SourceImage (empty before push), LatentRow, LatentColumn, BoxX, BoxY, BoxWidth, BoxHeight (the patch's 95th-percentile box in the source image's own pixels) and Distance (how far push moved the prototype).
'@
    Parameters  = @{
        Model = 'The model or ensemble (then Model names each prototype''s member); accepts pipeline input.'
        Class = 'Only the prototypes of these classes.'
        OutputDirectory = 'Also write prototypes.html, a gallery of every prototype grouped by class (patch and source image with its box), into this folder.'
        PushDataset = 'The push dataset, to draw prototypes whose source image is an item of a container file (IDX).'
    }
    Examples    = @(
        @{ Code = '$model | Get-Prototype | Format-Table'; Remarks = 'Every prototype with its provenance.' }
        @{ Code = '$model | Get-Prototype -OutputDirectory ./gallery | Out-Null'; Remarks = 'Writes ./gallery/prototypes.html.' }
        @{ Code = '$model | Get-Prototype -Class Sandal | Sort-Object Distance -Descending | Select-Object -First 3'; Remarks = 'The Sandal prototypes that moved most at push.' }
    )
}
