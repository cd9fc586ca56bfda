@{
    Synopsis    = 'Stage 3: fits the last layer by a convex solve, driving wrong-class connections to zero.'
    Description = @'
With backbone, add-on and prototypes frozen, each training image''s similarity vector is computed once; then mean cross-entropy + λ·Σ|w| over wrong-class connections is minimized by FISTA (proximal gradient with backtracking) to -Tolerance. The result reports the objective, an optimality measure, the fraction of wrong-class weights that are exactly zero, and the accuracy. -Method Adam runs the authors'' variant (Adam 1e-4 over -Passes passes) for comparison.
'@
    Parameters  = @{
        Model    = 'The model; accepts pipeline input. Its last layer is replaced in place.'
        Dataset  = 'The training images.'
        PassThru = 'Emit the model after the result.'
    }
    Examples    = @(
        @{ Code = '$model | Optimize-LastLayer -Dataset $train'; Remarks = 'The convex solve at the authors'' λ = 1e-4.' }
        @{ Code = '$model | Optimize-LastLayer -Dataset $train -Method Adam -Passes 20'; Remarks = 'The authors'' 20 Adam passes, for comparison.' }
    )
}
