<#
.SYNOPSIS
    Inference speed of ProtoPNet forward passes on this machine, module import time, and model file size.
.DESCRIPTION
    For resnet18 at 224×224 (batch 16, 200 classes, 2,000 prototypes), resnet18 at 64×64 (batch 100, 10 classes, 100
    prototypes: the reference configuration's test pass) and smallcnn at 28×28 (batch 128, 10 classes, 100
    prototypes), on the CPU, in eval mode without gradients: images/s of the backbone alone and of the whole
    ProtoPNet forward, in wall-clock time and per CPU-second of this process (which other load on a shared machine
    disturbs far less), and what the layers after the backbone add to its time, from CPU time: 'Add-on %' (the 1×1
    convolutions, timed alone), 'Proto+last %' (distances, min-pool, similarity and last layer: the head timed alone
    less the add-on), 'Whole-Backbone %' (the whole forward over the backbone alone, minus one), and the whole forward
    inside an inference scope, as Test-ProtoPNet, push and the last layer run it (BatchNorm folded into the
    convolutions, weights prepared once: docs/performance.md, "Inference weights"): 'In scope img/s' and 'Scope gain %'
    (from CPU time, over the unscoped forward). Then the time a fresh
    pwsh takes to import the module (and to build its first model, which loads libtorch), and the size of an exported
    resnet18 model with 200 classes. Build the module first: dotnet pwsh ./build.ps1
.EXAMPLE
    dotnet pwsh ./scripts/bench-forward.ps1 -Repetitions 3
#>
[CmdletBinding()]
param(
    [ValidateRange(1, 100)] [int] $Repetitions = 5,
    [ValidateRange(0, 600)] [double] $MinimumSeconds = 3,
    [string] $Device = 'cpu',
    # libtorch's intra-op threads (default: one per core). On a machine shared with other work, 1 gives steadier numbers.
    [ValidateRange(1, 1024)] [int] $Threads
)
$ErrorActionPreference = 'Stop'
$manifest = Join-Path $PSScriptRoot '../ProtoPNet.psd1'
Import-Module $manifest -Force
. (Join-Path $PSScriptRoot 'Import-Experiments.ps1')   # the experiment assembly (ForwardBenchmark)
(New-ProtoPNet -Backbone smallcnn -ClassCount 2 -ImageSize 28).Dispose()   # loads TorchSharp and libtorch
if ($PSBoundParameters.ContainsKey('Threads')) { [TorchSharp.torch]::set_num_threads($Threads) }
Write-Host ("libtorch threads: {0}; load average: {1}" -f [TorchSharp.torch]::get_num_threads(),
    ((Get-LoadAverage -All) ?? 'n/a'))

$cases = @(
    @{ Backbone = 'resnet18'; ImageSize = 224; Batch = 16; Classes = 200 }
    @{ Backbone = 'resnet18'; ImageSize = 64; Batch = 100; Classes = 10 }
    @{ Backbone = 'smallcnn'; ImageSize = 28; Batch = 128; Classes = 10 }
)
$rows = foreach ($case in $cases) {
    $model = New-ProtoPNet -Backbone $case.Backbone -ClassCount $case.Classes -ImageSize $case.ImageSize -Device $Device -Seed 1
    try {
        $t = [ProtoPNet.Benchmarks.ForwardBenchmark]::Run($model, $case.Batch, $Repetitions, $MinimumSeconds)
        [pscustomobject]@{
            Backbone             = $t.Backbone
            'Batch×Input'        = '{0}×{1}×{1}' -f $t.BatchSize, $t.ImageSize
            Prototypes           = $t.PrototypeCount
            'Backbone img/s'     = [math]::Round($t.BackboneImagesPerSecond, 1)
            'ProtoPNet img/s'    = [math]::Round($t.ModelImagesPerSecond, 1)
            'Backbone img/CPU-s' = [math]::Round($t.BackboneImagesPerCpuSecond, 1)
            'ProtoPNet img/CPU-s' = [math]::Round($t.ModelImagesPerCpuSecond, 1)
            'Add-on %'           = [math]::Round($t.AddOnOverheadPercent, 1)
            'Proto+last %'       = [math]::Round($t.PrototypeAndLastLayerOverheadPercent, 1)
            'Whole-Backbone %'   = [math]::Round($t.ModelOverheadPercent, 1)
            'In scope img/s'     = [math]::Round($t.ScopedModelImagesPerSecond, 1)
            'Scope gain %'       = [math]::Round($t.ScopeGainPercent, 1)
        }
    } finally { $model.Dispose() }
}
$rows | Format-Table -Property * -AutoSize | Out-String -Width 400 | Write-Host   # -Property *: all columns, not the first 10

# Import time in a fresh process: the module alone, then with the first model built (that loads libtorch).
# pwsh may be the dotnet tool, hosted by 'dotnet' itself: then start its pwsh.dll the same way.
$host_ = [Environment]::ProcessPath
[string[]] $hostArgs = if ((Split-Path -Leaf $host_) -like 'dotnet*') { @(Join-Path $PSHOME 'pwsh.dll') } else { @() }
function Measure-FreshSeconds([string] $script) {
    $seconds = & $host_ @hostArgs -NoProfile -NonInteractive -Command "(Measure-Command { $script }).TotalSeconds"
    if ($LASTEXITCODE -ne 0) { throw "A fresh pwsh failed to run: $script" }
    [math]::Round([double]($seconds | Select-Object -Last 1), 2)
}
$importOnly = Measure-FreshSeconds "Import-Module '$manifest'"
$firstModel = Measure-FreshSeconds "Import-Module '$manifest'; `$null = New-ProtoPNet -Backbone smallcnn -ClassCount 2 -ImageSize 28"

$file = Join-Path ([IO.Path]::GetTempPath()) ("bench-resnet18-{0}.ptpn" -f [guid]::NewGuid())
try {
    $model = New-ProtoPNet -Backbone resnet18 -ClassCount 200 -Seed 1
    $model | Export-ProtoPNet -LiteralPath $file
    $size = (Get-Item -LiteralPath $file).Length
    $model.Dispose()
} finally { Remove-Item -LiteralPath $file -ErrorAction Ignore }

[pscustomobject]@{
    'Import-Module (s)'               = $importOnly
    'Import + first New-ProtoPNet (s)' = $firstModel
    'resnet18/200 classes .ptpn (MB)' = [math]::Round($size / 1MB, 1)
} | Format-List | Out-String | Write-Host
