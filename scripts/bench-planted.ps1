<#
.SYNOPSIS
    Does a ProtoPNet trained from scratch with default settings learn a part-decided task, and do its boxes point at the part?
.DESCRIPTION
    On a planted-part data set (scripts/New-PlantedPartSet.ps1: 8 classes decided by one 14-px key glyph at a random
    place in a 64-px image, two distractor glyphs, 200 training and 50 test images per class; generated when missing),
    each repeat builds a ProtoPNet (smallcnn unless -Backbone says otherwise) from random weights (seed = repeat number) and runs the four stages with
    their defaults: Start-ProtoPNetTraining, Invoke-PrototypePush, Optimize-LastLayer. It measures test accuracy after
    each stage, the training time, the pointing game of the top evidence box, the share of the prototypes the model keeps
    (push prunes by default) on the key glyph and the share of their own-class weight those carry
    (Measure-ProtoPNetInterpretability, both box methods, with chance), that contributions add up to the
    logit, and that pushed prototypes reproduce their source patch. Prints the median, min and max over the repeats
    and the load average before and after. Run it alone on the machine; build first: dotnet pwsh ./build.ps1

    -AddOnInitialization redraws the add-on after the model is built: Authors (Kaiming normal, fan-out, bias 0) or
    ConvolutionDefault (Kaiming uniform, a = √5); Backbone (default) keeps what the product chooses for that backbone
    (the authors' after resnet18, the default after smallcnn). Crossing the two separates the backbone's effect on push
    from the initialization's.
.EXAMPLE
    dotnet pwsh -File scripts/bench-planted.ps1 -Repeats 3
.EXAMPLE
    dotnet pwsh -File scripts/bench-planted.ps1 -Repeats 2 -Backbone resnet18 -AddOnInitialization ConvolutionDefault
#>
[CmdletBinding()]
param(
    [string] $Path = (Join-Path $PSScriptRoot '../out/planted64'),
    [ValidateRange(1, 20)] [int] $Repeats = 3,
    [ValidateRange(1, 1024)] [int] $Threads = 2,
    [ValidateSet('smallcnn', 'resnet18')] [string] $Backbone = 'smallcnn',
    [ValidateSet('Backbone', 'Authors', 'ConvolutionDefault')] [string] $AddOnInitialization = 'Backbone',
    # Default: the training schedule left to the recipe. Named: -WarmEpochs 3 -Epochs 15 given (the backbone phase must
    # still run for a random backbone).
    [ValidateSet('Default', 'Named')] [string] $Schedule = 'Default',
    # Push without its default pruning (-NoPrune), to see what the pruning changes.
    [switch] $NoPrune
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'Import-Experiments.ps1')
$root = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
if (-not (Test-Path (Join-Path $root 'parts.csv'))) {
    Write-Host "Writing the planted-part set to $root"
    [ProtoPNet.Benchmarks.PlantedPartSet]::Write($root, [ProtoPNet.Benchmarks.PlantedPartOptions]::new()) | Out-Null
}
$parts = Join-Path $root 'parts.csv'
$train = Import-ProtoPNetDataset (Join-Path $root 'train')
$test = Import-ProtoPNetDataset (Join-Path $root 'test')
$loadStart = Get-LoadAverage -All

$runs = foreach ($repeat in 1..$Repeats) {
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $model = New-ProtoPNet -Backbone $Backbone -ClassName $train.ClassNames -ImageSize 64 -Seed $repeat -Name "planted-$repeat"
    if ($AddOnInitialization -ne 'Backbone') {
        [ProtoPNet.Benchmarks.AddOnInitialization]::Apply($model, $AddOnInitialization -eq 'Authors', $repeat)
    }
    $warnings = @()
    $scheduleParameters = if ($Schedule -eq 'Named') { @{ WarmEpochs = 3; Epochs = 15 } } else { @{} }
    $model | Start-ProtoPNetTraining -Dataset $train -Seed $repeat -Threads $Threads -WarningVariable +warnings @scheduleParameters | Out-Null
    $trainSeconds = $clock.Elapsed.TotalSeconds
    [TorchSharp.torch]::set_num_threads($Threads)
    $beforePush = ($model | Test-ProtoPNet -Dataset $test).Accuracy
    $push = $model | Invoke-PrototypePush -Dataset $train -NoPrune:$NoPrune
    $afterPush = ($model | Test-ProtoPNet -Dataset $test).Accuracy
    $model | Optimize-LastLayer -Dataset $train | Out-Null
    $final = ($model | Test-ProtoPNet -Dataset $test).Accuracy
    $totalSeconds = $clock.Elapsed.TotalSeconds

    $metrics = @{}
    foreach ($method in 'ReceptiveField', 'Percentile') {
        $metrics[$method] = @($model | Measure-ProtoPNetInterpretability -Dataset $test -PartsPath $parts -Metric PointingGame -BoxMethod $method -Seed $repeat)
    }
    # Contributions add up to the logit (all prototypes of 20 test images).
    $rows = Get-Explanation -Model $model -Dataset $test -Index (0..19 | ForEach-Object { $_ * 20 }) -Top 0
    $sumError = ($rows | Group-Object ImageIndex | ForEach-Object {
            $sum = ($_.Group | Measure-Object Contribution -Sum).Sum
            [math]::Abs($sum - $_.Group[0].ExplainedLogit) / [math]::Max(1e-9, [math]::Abs($_.Group[0].ExplainedLogit))
        } | Measure-Object -Maximum).Maximum
    # Pushed prototypes reproduce their source patch: each one's distance on its own source image.
    $reproduce = (Get-Prototype -Model $model | Where-Object SourceImage | ForEach-Object {
            $p = $_
            (Get-Explanation -Model $model -LiteralPath $p.SourceImage -Top 0 | Where-Object PrototypeIndex -EQ $p.Index).Distance
        } | Measure-Object -Maximum).Maximum
    $pick = { param($list, $name) $list | Where-Object Metric -EQ $name | Select-Object -First 1 }
    $rfImages = & $pick $metrics.ReceptiveField 'PointingGame'
    $pctImages = & $pick $metrics.Percentile 'PointingGame'
    [pscustomobject]@{
        Repeat = $repeat
        TrainSeconds = $trainSeconds
        TotalSeconds = $totalSeconds
        AccuracyBeforePush = $beforePush
        AccuracyAfterPush = $afterPush
        AccuracyFinal = $final
        PointingReceptiveField = $rfImages.Value
        PointingPercentile = $pctImages.Value
        PointingChanceReceptiveField = $rfImages.Chance
        PointingChancePercentile = $pctImages.Chance
        PushedOnKeyReceptiveField = $rfImages.PrototypesOnPart
        PushedOnKeyPercentile = $pctImages.PrototypesOnPart
        PushedOnKeyChanceReceptiveField = $rfImages.PrototypesOnPartChance
        PushedOnKeyChancePercentile = $pctImages.PrototypesOnPartChance
        KeptPrototypes = $model.PrototypeCount
        PrunedByPush = $push.Removed.Count
        WeightOnKeyReceptiveField = $rfImages.PrototypesOnPartWeightShare
        ContributionSumRelativeError = $sumError
        PushedPrototypeSourceDistance = $reproduce
        ChanceWarnings = @($warnings | Where-Object { "$_" -like 'Training ended at chance*' }).Count
    }
    Write-Host ("repeat {0}: trained in {1:n0} s; test accuracy {2:p1} → push {3:p1} → last layer {4:p1}; pointing RF {5:p3} / percentile {6:p3}; {7} prototypes kept, {8:p1} on the key carrying {9:p1} of the weight" -f
        $repeat, $trainSeconds, $beforePush, $afterPush, $final, $rfImages.Value, $pctImages.Value, $model.PrototypeCount, $rfImages.PrototypesOnPart, $rfImages.PrototypesOnPartWeightShare)
    $model.Dispose()
}
$loadEnd = Get-LoadAverage -All

$table = foreach ($name in $runs[0].PSObject.Properties.Name | Where-Object { $_ -ne 'Repeat' }) {
    $spread = Get-Spread ([double[]]@($runs | ForEach-Object { $_.$name }))
    [pscustomobject]@{ Figure = $name; Median = $spread.Median; Min = $spread.Min; Max = $spread.Max }
}
$table | Format-Table Figure, @{ n = 'Median'; e = { '{0:G4}' -f $_.Median } }, @{ n = 'Min'; e = { '{0:G4}' -f $_.Min } }, @{ n = 'Max'; e = { '{0:G4}' -f $_.Max } } | Out-Host
Write-Host ("{0}, add-on initialization: {1}, schedule: {2}, push {3}" -f $Backbone, $AddOnInitialization, $Schedule, $(if ($NoPrune) { 'without pruning' } else { 'with its default pruning' }))
Write-Host ("{0} repeats, {1} threads; load average {2} at start, {3} at end" -f $Repeats, $Threads, $loadStart, $loadEnd)
[pscustomobject]@{ Backbone = $Backbone; AddOnInitialization = $AddOnInitialization; Schedule = $Schedule; NoPrune = [bool]$NoPrune; Repeats = $runs; LoadStart = "$loadStart"; LoadEnd = "$loadEnd" } | ConvertTo-Json -Depth 4 -Compress
