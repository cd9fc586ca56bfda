<#
.SYNOPSIS
    Training step of a ProtoPNet (joint phase) against the same backbone with a plain linear head, per configuration.
.DESCRIPTION
    smallcnn at 28×28 and resnet18 at 64×64 and 224×224, each with 10 classes × 10 prototypes and with 2,000 prototypes
    (200 classes × 10, the CUB count), random input, -Threads torch threads. Prints milliseconds per batch, images/s and
    what the ProtoPNet adds in percent (the issue's bound: ≤ 15 %, and a step within 1.1× of the plain one).
    With -Breakdown it also builds each configuration's step up piece by piece (backbone alone, + the NCHW copy of
    its output, + add-on, + nearest-patch distances, + similarity/last layer/cross-entropy, + cluster/separation/L1,
    + zero_grad and FusedAdam) and prints the median milliseconds of each prefix and what each piece adds; last, the
    whole step timed back to back, as the trainer runs it.
    Run it alone on the machine. Build the module first: dotnet pwsh ./build.ps1
.EXAMPLE
    dotnet pwsh -File scripts/bench-step.ps1
.EXAMPLE
    dotnet pwsh -File scripts/bench-step.ps1 -Breakdown -Only smallcnn
#>
[CmdletBinding()]
param(
    [ValidateRange(1, 100)] [int] $Repetitions = 5,
    [ValidateRange(0, 600)] [double] $MinimumSeconds = 5,
    [ValidateRange(1, 1024)] [int] $Threads = 2,
    # Only the configurations of these backbones.
    [ValidateSet('smallcnn', 'resnet18')] [string[]] $Only = @('smallcnn', 'resnet18'),
    [switch] $Breakdown
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'Import-Experiments.ps1')   # the module and the experiment assembly (bin/experiments)
(New-ProtoPNet -Backbone smallcnn -ClassCount 2 -ImageSize 28).Dispose()   # loads TorchSharp and libtorch
[TorchSharp.torch]::set_num_threads($Threads)

$cases = @(
    @{ Backbone = 'smallcnn'; ImageSize = 28; Batch = 64; Classes = 10; PerClass = 10 }
    @{ Backbone = 'smallcnn'; ImageSize = 28; Batch = 64; Classes = 200; PerClass = 10 }
    @{ Backbone = 'resnet18'; ImageSize = 64; Batch = 64; Classes = 10; PerClass = 10 }
    @{ Backbone = 'resnet18'; ImageSize = 64; Batch = 64; Classes = 10; PerClass = 200 }
    @{ Backbone = 'resnet18'; ImageSize = 224; Batch = 16; Classes = 10; PerClass = 10 }
    @{ Backbone = 'resnet18'; ImageSize = 224; Batch = 16; Classes = 200; PerClass = 10 }
)
$cases = @($cases | Where-Object { $_.Backbone -in $Only })
Write-Host ("libtorch threads: {0}; load average at start: {1}" -f $Threads, ((Get-LoadAverage -All) ?? 'n/a'))
$rows = foreach ($case in $cases) {
    $t = [ProtoPNet.Benchmarks.TrainingStepBenchmark]::Run($case.Backbone, $case.ImageSize, $case.Batch, $case.Classes, $case.PerClass, $Repetitions, $MinimumSeconds)
    [pscustomobject]@{
        Backbone          = $t.Backbone
        'Batch×Input'     = '{0}×{1}²' -f $t.BatchSize, $t.ImageSize
        Prototypes        = $t.PrototypeCount
        'ProtoPNet ms'    = [math]::Round($t.ProtoPNetMilliseconds, 1)
        'Plain ms'        = [math]::Round($t.PlainMilliseconds, 1)
        'ProtoPNet img/s' = [math]::Round($t.ProtoPNetImagesPerSecond, 1)
        'Plain img/s'     = [math]::Round($t.PlainImagesPerSecond, 1)
        'Overhead %'      = [math]::Round($t.OverheadPercent, 1)
    }
}
$rows | Format-Table -AutoSize | Out-String -Width 200 | Write-Host
if ($Breakdown) {
    foreach ($case in $cases) {
        $b = [ProtoPNet.Benchmarks.TrainingStepBreakdown]::Run($case.Backbone, $case.ImageSize, $case.Batch, $case.Classes, $case.PerClass, $Repetitions, $MinimumSeconds)
        $previous = $null
        $first = $b.Stages[0].Item2
        $table = foreach ($stage in $b.Stages) {
            [pscustomobject]@{
                Step = $stage.Item1
                'ms (median)' = [math]::Round($stage.Item2, 1)
                'adds ms' = if ($null -eq $previous) { '' } else { [math]::Round($stage.Item2 - $previous, 1) }
                '% over backbone' = [math]::Round(($stage.Item2 / $first - 1) * 100, 1)
            }
            $previous = $stage.Item2
        }
        Write-Host ("{0} {1}×{2}², {3} prototypes, {4} rounds" -f $b.Backbone, $b.BatchSize, $b.ImageSize, $b.PrototypeCount, $b.Rounds)
        $table | Format-Table -AutoSize | Out-String -Width 200 | Write-Host
    }
}
Write-Host ("load average at end: {0}" -f ((Get-LoadAverage -All) ?? 'n/a'))
