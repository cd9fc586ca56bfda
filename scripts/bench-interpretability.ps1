<#
.SYNOPSIS
    Measures Measure-ProtoPNetInterpretability: images per second of each metric (median, min and max of several
    repeats) and resident memory before and after, with the load average beside them.
.DESCRIPTION
    Writes a planted-part set (8 classes, 64 px, -TestPerClass test images per class) and measures a smallcnn model on
    its test split: an untrained one by default, or the model file -ModelPath (classes must be the planted set's).
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
    [int] $Threads = 2
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'Import-Experiments.ps1')
$work = Join-Path ([IO.Path]::GetTempPath()) "bench-interpretability-$PID"
try {
    $options = [ProtoPNet.Benchmarks.PlantedPartOptions]@{ ImageSize = 64; ClassCount = 8; TrainPerClass = 1; TestPerClass = $TestPerClass; Seed = 1 }
    $planted = [ProtoPNet.Benchmarks.PlantedPartSet]::Write($work, $options)
    $test = Import-ProtoPNetDataset $planted.TestPath
    $curveSet = [ProtoPNet.Data.SubsetDataset]::new($test, [int[]](0..([Math]::Min($CurveImages, $test.Count) - 1)), 'Test', 'curves')
    $model = if ($ModelPath) { Import-ProtoPNet $ModelPath } else { New-ProtoPNet -Backbone smallcnn -ClassName $test.ClassNames -ImageSize 64 -Seed 1 }
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
    "smallcnn at 64 px, $($model.PrototypeCount) prototypes, $Threads threads, $Repeats repeats, $([Environment]::ProcessorCount) cores"
    $rows | Format-Table -AutoSize | Out-String -Width 200
}
finally {
    Remove-Item -Recurse -Force $work -ErrorAction Ignore
}
