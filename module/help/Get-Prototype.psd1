@{
    Synopsis    = 'Lists a model''s prototypes: class, how much each decides, and after push the training image and patch each one was projected onto.'
    Description = @'
One object per prototype with Index, Class, Weight (its last-layer weight for its own class), WeightShare (its share of its class's positive own-class weight), SourceImage (empty before push), LatentRow, LatentColumn, WindowX, WindowY, WindowWidth, WindowHeight (the source patch's receptive window in the source image's own pixels), BoxX, BoxY, BoxWidth, BoxHeight (the paper's 95th-percentile box) and Distance (how far push moved the prototype). With -Dataset, TopEvidence counts the images on which the prototype is the top evidence for the predicted class (the first row of Get-Explanation), over Images.

The gallery (-OutputDirectory) orders each class's prototypes by weight, then by top evidence; prototypes without positive weight (they add nothing to their class) are greyed out, pruned ones are listed from the model's history, and every source picture draws the box of -BoxMethod.
'@
    Parameters  = @{
        Model = 'The model or ensemble (then Model names each prototype''s member); accepts pipeline input.'
        Class = 'Only the prototypes of these classes.'
        OutputDirectory = 'Also write prototypes.html, a gallery of every prototype grouped by class (patch and source image with its box), into this folder.'
        PushDataset = 'The push dataset, to draw prototypes whose source image is an item of a container file (IDX).'
        Dataset = 'Count how often each prototype is the top evidence over this data set (one inference pass); fills TopEvidence and Images.'
        BoxMethod = 'The box the gallery draws on each source image: ReceptiveField (default; WindowX…, as Get-Explanation) or Percentile (BoxX…, the paper''s).'
    }
    Examples    = @(
        @{ Code = '$model | Get-Prototype | Format-Table'; Remarks = 'Every prototype with its provenance.' }
        @{ Code = '$model | Get-Prototype -OutputDirectory ./gallery | Out-Null'; Remarks = 'Writes ./gallery/prototypes.html.' }
        @{ Code = '$model | Get-Prototype -Class Sandal | Sort-Object Distance -Descending | Select-Object -First 3'; Remarks = 'The Sandal prototypes that moved most at push.' }
        @{ Code = '$model | Get-Prototype -Dataset $test -OutputDirectory ./gallery | Sort-Object TopEvidence -Descending | Select-Object -First 5 Index, Class, Weight, TopEvidence'; Remarks = 'The prototypes that decide most often on the test set, and a gallery ordered by what decides.' }
    )
}
