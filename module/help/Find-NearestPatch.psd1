@{
    Synopsis    = 'Finds each prototype''s nearest patches in a dataset, one per image (the paper''s Figure 5).'
    Description = @'
For each prototype, the K images of the dataset whose nearest latent patch is closest to it, nearest first, with Distance, Similarity, the image's class (ImageClass), the latent patch (LatentRow, LatentColumn) and its box in the image's own pixels by -BoxMethod (BoxMethod says which): the receptive window of that latent patch (default, as Get-Explanation) or the 95th-percentile box of the prototype's activation map. Prototypes whose nearest patches belong to other classes are candidates for Invoke-PrototypePruning. Items that cannot be loaded are reported as errors and skipped.
'@
    Parameters  = @{
        Model     = 'The model; accepts pipeline input.'
        Dataset   = 'Where to search, usually the unaugmented training (push) set.'
        K         = 'Patches per prototype (default 6).'
        Prototype = 'Only these prototypes (indices).'
        NoBox     = 'Skip the boxes (saves a second pass over the chosen images).'
        BoxMethod = 'ReceptiveField (default: the nearest latent patch''s input window) or Percentile (the paper''s box; a forward pass over the chosen images).'
    }
    Examples    = @(
        @{ Code = '$model | Find-NearestPatch $push -K 6 | Format-Table -GroupBy PrototypeIndex'; Remarks = 'The six nearest training patches of every prototype.' }
        @{ Code = '$model | Find-NearestPatch $push -Prototype 17 | Where-Object ImageClass -ne $_.PrototypeClass'; Remarks = 'Where prototype 17 looks like parts of other classes.' }
    )
}
