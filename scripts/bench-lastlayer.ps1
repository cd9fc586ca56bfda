<#
.SYNOPSIS
    Times the last-layer solvers on post-push-like similarity vectors and prints a table.
.DESCRIPTION
    For each N in -Counts: synthetic similarity vectors (ProtoPNet.Benchmarks.SyntheticSimilarities: K = 10 classes ×
    10 prototypes, nearly separable, log similarities up to ~9 as after a push), from the authors' starting weights
    (1 own class, −0.5 elsewhere), λ = 1e-4. Methods: proximal Newton (the default of Optimize-LastLayer; on a working set beyond 4,096 weights) and OWL-QN to -Tolerance,
    FISTA to -Tolerance or -FistaIterations, and the authors' 20 Adam passes (lr 1e-4, batch 80). Columns: seconds (median
    of -Repeats runs, with min and max),
    iterations (Adam: minibatch steps), the final objective and optimality (‖W − prox(W − ∇f(W))‖∞), converged.
    -Real uses real post-push vectors instead: a smallcnn ProtoPNet trained briefly on the bundled Fashion-MNIST sample
    (or the model in -ModelPath), pushed, its similarity vectors on the sample's 6,000 training images (N is capped at the
    number of images).
.EXAMPLE
    dotnet pwsh -File scripts/bench-lastlayer.ps1
.EXAMPLE
    dotnet pwsh -File scripts/bench-lastlayer.ps1 -Real -Counts 6000
#>
[CmdletBinding()]
param(
    [int[]] $Counts = @(5400, 60000),
    [double] $Lambda = 1e-4,
    [double] $Tolerance = 1e-4,
    [int] $FistaIterations = 1000,
    # 10 classes × this many prototypes (200: 2,000 prototypes, 20,000 weights, beyond Newton's dense Hessian: a working set).
    [int] $PrototypesPerClass = 10,
    [ValidateRange(1, 20)] [int] $Repeats = 3,
    [int] $Threads = 2,
    [switch] $Real,
    [string] $ModelPath
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'Import-Experiments.ps1')   # the module and the experiment assembly (bin/experiments)
$null = New-ProtoPNet -Backbone smallcnn -ClassCount 2 -ImageSize 28   # loads TorchSharp
[TorchSharp.torch]::set_num_threads($Threads)
Write-Host "Load average at the start: $(Get-LoadAverage -All)"
$none = [Threading.CancellationToken]::None

$torch = [TorchSharp.torch]
if ($Real -or $ModelPath) {
    $train = Import-ProtoPNetDataset (Join-Path $PSScriptRoot '../data/fashion-mnist-sample') -Format Idx -Split Train
    if ($ModelPath) { $model = Import-ProtoPNet -LiteralPath $ModelPath }
    else {
        Write-Host 'Training a smallcnn ProtoPNet briefly (1 warm + 2 joint epochs) and pushing it, for real similarity vectors...'
        $model = New-ProtoPNet -Backbone smallcnn -ClassName $train.ClassNames -ImageSize 28 -Seed 1 -PrototypesPerClass $PrototypesPerClass
        $null = $model | Start-ProtoPNetTraining -Dataset $train -WarmEpochs 1 -Epochs 2 -BackboneLearningRate 3e-3 -Seed 1
        $null = $model | Invoke-PrototypePush -Dataset $train
    }
    $vectors = [ProtoPNet.LastLayer.LastLayerOptimizer]::SimilarityVectors($model, $train, 100, $null, $none)
    $realMask = $model.Network.PrototypeClassIdentity.transpose(0, 1).mul([TorchSharp.Scalar](-1.0)).add([TorchSharp.Scalar]1.0).to([TorchSharp.torch+ScalarType]::Float64)
}

$rows = foreach ($n in $Counts) {
    if ($Real -or $ModelPath) {
        # Only as many vectors as the data has (N is capped there): no tiling.
        $n = [math]::Min($n, [int]$vectors.Item1.size(0))
        $s, $y = $vectors.Item1.narrow(0, 0, $n), $vectors.Item2.narrow(0, 0, $n)
        $mask = $realMask
    }
    else {
        $problem = [ProtoPNet.Benchmarks.SyntheticSimilarities]::Create($n, 10, $PrototypesPerClass, 1)
        $s, $y, $mask = $problem.Item1, $problem.Item2, $problem.Item3
    }
    $start = $mask.mul([TorchSharp.Scalar](-1.5)).add([TorchSharp.Scalar]1.0)
    $runs = [ordered]@{
        Newton = { [ProtoPNet.LastLayer.LastLayerSolver]::Newton($s, $y, $mask, $start, $Lambda, $Tolerance, 5000, $null, $none) }
        OwlQn  = { [ProtoPNet.LastLayer.LastLayerSolver]::OwlQn($s, $y, $mask, $start, $Lambda, $Tolerance, 5000, $null, $none) }
        Fista  = { [ProtoPNet.LastLayer.LastLayerSolver]::Fista($s, $y, $mask, $start, $Lambda, $Tolerance, $FistaIterations, $null, $none) }
        Adam20 = {
            $options = [ProtoPNet.LastLayer.LastLayerOptions]@{ Method = 'Adam'; Lambda = $Lambda; Tolerance = $Tolerance; Passes = 20; LearningRate = 1e-4; BatchSize = 80; Seed = 1 }
            [ProtoPNet.LastLayer.LastLayerOptimizer]::AdamPasses($s, $y, $mask, $start, $options, $null, $none)
        }
    }
    foreach ($name in $runs.Keys) {
        $seconds = foreach ($repeat in 1..$Repeats) {
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $r = & $runs[$name]
            $clock.Elapsed.TotalSeconds
            if ($repeat -lt $Repeats) { $r.Weight.Dispose() }
        }
        $spread = Get-Spread $seconds
        [pscustomobject]@{
            Vectors = if ($Real -or $ModelPath) { 'real' } else { 'synthetic' }; N = $n; Prototypes = [int]$mask.size(1); Method = "$name ($($r.Method))"
            Seconds = [math]::Round($spread.Median, 2); Min = [math]::Round($spread.Min, 2); Max = [math]::Round($spread.Max, 2)
            Iterations = $r.Iterations; Objective = $r.Objective.ToString('G10'); Optimality = $r.Optimality.ToString('G3'); Converged = $r.Converged
        }
        $r.Weight.Dispose()
    }
}
Write-Host "Load average at the end: $(Get-LoadAverage -All)"
$rows | Format-Table -AutoSize | Out-String -Width 200
