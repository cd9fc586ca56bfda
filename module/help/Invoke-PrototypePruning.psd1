@{
    Synopsis    = 'Removes prototypes whose nearest training patches are mostly of other classes (the authors'' pruning).'
    Description = @'
For each prototype the K nearest training patches, one per image, are found (Find-NearestPatch); a prototype is pruned when fewer than Threshold of them are of its own class (authors: K = 6, τ = 3). Such prototypes tend to encode background or parts shared by many classes. Removal keeps the model consistent: prototype vectors, last-layer columns, prototype classes and provenance shrink together, and the model's history records it. Remaining prototypes are renumbered. One PruningDecision per removed prototype says why (PrototypeIndex is the index before pruning). -WhatIf lists what would go; -Confirm asks per prototype. Re-optimize the last layer afterwards (Optimize-LastLayer).
'@
    Parameters  = @{
        Model     = 'The model to prune (changed in place); accepts pipeline input.'
        Dataset   = 'The unaugmented training set; its class names are compared with the model''s.'
        K         = 'Nearest patches per prototype (default 6).'
        Threshold = 'τ: prune when fewer than this many of the K patches are of the prototype''s class (default 3).'
        PassThru  = 'Emit the model after the decisions, for the next pipeline step.'
    }
    Examples    = @(
        @{ Code = '$model | Invoke-PrototypePruning -Dataset $push -WhatIf'; Remarks = 'Lists the prototypes that would be removed, and why.' }
        @{ Code = '$model = $model | Invoke-PrototypePruning -Dataset $push -Confirm:$false -PassThru | Where-Object { $_ -is [ProtoPNet.Model.ProtoPNetModel] } | Optimize-LastLayer -Dataset $train -PassThru'; Remarks = 'Prunes, then re-optimizes the last layer.' }
    )
}
