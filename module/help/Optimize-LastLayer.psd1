@{
    Synopsis    = 'Stage 3: fits the last layer by a convex solve, driving wrong-class connections to zero.'
    Description = @'
With backbone, add-on and prototypes frozen, each training image's similarity vector is computed once; then mean cross-entropy + λ·Σ|w| over wrong-class connections is minimized to -Tolerance. -Method Newton (default) is a proximal Newton method: exact gradient and Hessian of the cross-entropy in the K·m weights (both over all vectors), the L1-regularized quadratic model solved by coordinate descent with exact solves on its sign pattern (roughly while the line search still cuts steps, precisely once full steps are taken), and a line search on the true objective; it needs tens of iterations where FISTA needs thousands on post-push vectors (12,000 × 100 vectors of the reference configuration: 15 iterations, 3 s with the vectors from push's latents; 12,000 × 2,000: 53 iterations, about 220 s, on 2 cores). Beyond 4,096 weights (e.g. 10 classes × 2,000 prototypes) the dense Hessian is too large and each iteration works on a working set: the own-class weights, the nonzero wrong-class weights and the worst of the zero ones that violate the optimality condition, at most 6,144 of them. Prototypes that push put on the same training patch have identical similarity vectors: every exact method solves them as one and gives them equal weights (the result's DistinctPrototypes counts the distinct ones), and starts from the best multiple of the current weights (the authors' starting weights are far too large with many prototypes per class). Right after Invoke-PrototypePush on the same dataset object, with the backbone and add-on unchanged, the similarity vectors come from the latent features push kept, without a second pass of the network (the result's FromPushLatents says so). -Method Fista is accelerated proximal gradient with backtracking, restart and a diagonal metric. Both stop when ‖W − prox(W − ∇f(W))‖∞ ≤ -Tolerance, computed with the exact gradient over all vectors. The result reports the objective, an optimality measure, the fraction of wrong-class weights that are exactly zero, and the accuracy. -Method Adam runs the authors' variant (Adam 1e-4 over -Passes passes) for comparison.
'@
    Parameters  = @{
        Model    = 'The model; accepts pipeline input. Its last layer is replaced in place.'
        Dataset  = 'The training images.'
        PassThru = 'Emit the model after the result.'
        Method   = 'Newton (proximal Newton, default), OwlQn (limited-memory quasi-Newton), Fista (proximal gradient) or Adam (the authors'' passes; -Passes, -LearningRate and -BatchSize apply to it only).'
        MaxIterations = 'Outer iterations of Newton or FISTA before giving up with a warning (Newton needs tens).'
    }
    Examples    = @(
        @{ Code = '$model | Optimize-LastLayer -Dataset $train'; Remarks = 'The convex solve at the authors'' λ = 1e-4.' }
        @{ Code = '$model | Optimize-LastLayer -Dataset $train -Method Fista -MaxIterations 20000'; Remarks = 'The first-order solve, for comparison.' }
        @{ Code = '$model | Optimize-LastLayer -Dataset $train -Method Adam -Passes 20'; Remarks = 'The authors'' 20 Adam passes, for comparison.' }
    )
}
