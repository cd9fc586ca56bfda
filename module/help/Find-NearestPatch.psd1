@{
    Synopsis    = 'Finds each prototype''s nearest patches in a dataset, one per image (the paper''s Figure 5).'
    Description = @'
For each prototype, the K images of the dataset whose nearest latent patch is closest to it, nearest first, with Distance, Similarity, the image's class (ImageClass), the latent patch (LatentRow, LatentColumn) and the 95th-percentile box of the prototype's activation map on that image in its own pixels. Prototypes whose nearest patches belong to other classes are candidates for Invoke-PrototypePruning. Items that cannot be loaded are reported as errors and skipped.
'@
    Parameters  = @{
        Model     = 'The model; accepts pipeline input.'
        Dataset   = 'Where to search, usually the unaugmented training (push) set.'
        K         = 'Patches per prototype (default 6).'
        Prototype = 'Only these prototypes (indices).'
        NoBox     = 'Skip the boxes (saves a second pass over the chosen images).'
    }
    Examples    = @(
        @{ Code = '$model | Find-NearestPatch $push -K 6 | Format-Table -GroupBy PrototypeIndex'; Remarks = 'The six nearest training patches of every prototype.' }
        @{ Code = '$model | Find-NearestPatch $push -Prototype 17 | Where-Object ImageClass -ne $_.PrototypeClass'; Remarks = 'Where prototype 17 looks like parts of other classes.' }
    )
}
