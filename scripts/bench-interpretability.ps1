<#
.SYNOPSIS
    Measures Measure-ProtoPNetInterpretability: images per second of each metric (median, min and max of several
    repeats) and resident memory before and after, with the load average beside them.
.DESCRIPTION
    Writes a planted-part set (8 classes, 64 px, -TestPerClass test images per class) and measures a smallcnn model on
    its test split: an untrained one by default, the model file -ModelPath (classes must be the planted set's), or with
    -Train one trained here with the defaults (Start-ProtoPNetTraining, Invoke-PrototypePush, Optimize-LastLayer) on the
    set's 200 training images per class (-SaveModel keeps it). Beside the metrics: the model's plain rates, Test-ProtoPNet
    over the same (cached) images and raw forward passes in batches of the curves' shape (126 images).
    Pointing game, consistency and stability run over all test images; deletion and insertion, which cost
    2 × (Steps + 1) forward passes per image, over the first -CurveImages. Run it after './build.ps1' from the
    repository root:  dotnet pwsh ./scripts/bench-interpretability.ps1 [-Repeats 3] [-TestPerClass 50]
#>
[CmdletBinding()]
param(
    [int] $Repeats = 3,
    [int] $TestPerClass = 50,
    [int] $CurveImages = 64,
    [string] $ModelPath,
    [switch] $Train,
    [string] $SaveModel,
    [int] $Threads = 2
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'Import-Experiments.ps1')
$work = Join-Path ([IO.Path]::GetTempPath()) "bench-interpretability-$PID"
try {
    $options = [ProtoPNet.Benchmarks.PlantedPartOptions]@{ ImageSize = 64; ClassCount = 8; TrainPerClass = $(if ($Train) { 200 } else { 1 }); TestPerClass = $TestPerClass; Seed = 1 }
    $planted = [ProtoPNet.Benchmarks.PlantedPartSet]::Write($work, $options)
    $test = Import-ProtoPNetDataset $planted.TestPath
    $curveSet = [ProtoPNet.Data.SubsetDataset]::new($test, [int[]](0..([Math]::Min($CurveImages, $test.Count) - 1)), 'Test', 'curves')
    $model = if ($ModelPath) { Import-ProtoPNet $ModelPath } else { New-ProtoPNet -Backbone smallcnn -ClassName $test.ClassNames -ImageSize 64 -Seed 1 }
    if ($Train) {
        $trainSet = Import-ProtoPNetDataset $planted.TrainPath
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $model | Start-ProtoPNetTraining -Dataset $trainSet -Seed 1 -Threads $Threads -PassThru | Invoke-PrototypePush -Dataset $trainSet -PassThru |
            Optimize-LastLayer -Dataset $trainSet | Out-Null
        "trained with the defaults in {0:n0} s: {1} prototypes kept, test accuracy {2:P1}" -f $clock.Elapsed.TotalSeconds, $model.PrototypeCount, ($model | Test-ProtoPNet -Dataset $test).Accuracy
        if ($SaveModel) { $model | Export-ProtoPNet -LiteralPath $SaveModel }
    }
    [TorchSharp.torch]::set_num_threads($Threads)

    function Get-ResidentMB {
        [GC]::Collect(); [GC]::WaitForPendingFinalizers(); [GC]::Collect()
        $p = [Diagnostics.Process]::GetCurrentProcess(); $p.Refresh()
        [math]::Round($p.WorkingSet64 / 1MB, 1)
    }

    # One warm-up pass decodes the images into the data set's cache, so every repeat measures the same work.
    $null = $model | Measure-ProtoPNetInterpretability $test -PartsPath $planted.PartsPath -Metric PointingGame
    $null = $model | Measure-ProtoPNetInterpretability $curveSet -Metric Deletion

    $rows = foreach ($metric in 'PointingGame', 'Consistency', 'Stability', 'Deletion', 'Insertion') {
        $data = if ($metric -in 'Deletion', 'Insertion') { $curveSet } else { $test }
        $parts = if ($metric -in 'Deletion', 'Insertion') { @{} } else { @{ PartsPath = $planted.PartsPath } }
        $loadBefore = Get-LoadAverage
        $memoryBefore = Get-ResidentMB
        $runs = foreach ($r in 1..$Repeats) { $model | Measure-ProtoPNetInterpretability $data -Metric $metric @parts }
        $rates = $runs.ImagesPerSecond | Sort-Object
        [pscustomobject]@{
            Metric        = $metric
            Images        = $data.Count
            'Median img/s' = [math]::Round($rates[[int][math]::Floor(($rates.Count - 1) / 2)], 1)
            'Min img/s'    = [math]::Round($rates[0], 1)
            'Max img/s'    = [math]::Round($rates[-1], 1)
            Value         = [math]::Round($runs[0].Value, 4)
            Chance        = [math]::Round($runs[0].Chance, 4)
            'RSS MB'      = "$memoryBefore → $(Get-ResidentMB)"
            'Load avg'    = "$loadBefore → $(Get-LoadAverage)"
        }
    }
    # The model's own rates: Test-ProtoPNet over the same cached images, and raw forward passes at the curves' batch shape.
    $plain = foreach ($r in 1..$Repeats) { ($model | Test-ProtoPNet -Dataset $test).ImagesPerSecond }
    $batch = [TorchSharp.torch]::randn([long[]]@(126, 3, 64, 64))
    $null = $model.Logits($batch).Dispose()
    $forward = foreach ($r in 1..$Repeats) {
        $clock = [Diagnostics.Stopwatch]::StartNew()
        foreach ($i in 1..4) { $model.Logits($batch).Dispose() }
        4 * 126 / $clock.Elapsed.TotalSeconds
    }
    $batch.Dispose()
    foreach ($pair in @(@('Test-ProtoPNet (plain inference)', $plain, $test.Count), @('forward passes, batches of 126', $forward, 126))) {
        $sorted = [double[]]($pair[1] | Sort-Object)
        $rows += [pscustomobject]@{ Metric = $pair[0]; Images = $pair[2]; 'Median img/s' = [math]::Round($sorted[[int][math]::Floor(($sorted.Count - 1) / 2)], 1)
            'Min img/s' = [math]::Round($sorted[0], 1); 'Max img/s' = [math]::Round($sorted[-1], 1); 'Load avg' = "$(Get-LoadAverage)" }
    }
    "smallcnn at 64 px, $($model.PrototypeCount) prototypes, $Threads threads, $Repeats repeats, $([Environment]::ProcessorCount) cores"
    $rows | Format-Table -AutoSize | Out-String -Width 200
}
finally {
    Remove-Item -Recurse -Force $work -ErrorAction Ignore
}
