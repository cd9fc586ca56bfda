<#
.SYNOPSIS
    Inference speed of ProtoPNet forward passes on this machine, module import time, and model file size.
.DESCRIPTION
    For resnet18 at 224×224 (batch 16, 200 classes, 2,000 prototypes) and smallcnn at 28×28 (batch 128, 10 classes,
    100 prototypes), on the CPU, in eval mode without gradients: images/s of the backbone alone and of the whole
    ProtoPNet forward, and what the layers after the backbone add (HeadOverhead%: add-on, distances, min-pool,
    similarity and last layer timed on their own; ModelOverhead%: whole over backbone, noisier). Then the time a fresh
    pwsh takes to import the module (and to build its first model, which loads libtorch), and the size of an exported
    resnet18 model with 200 classes. Build the module first: dotnet pwsh ./build.ps1
.EXAMPLE
    dotnet pwsh ./scripts/bench-forward.ps1 -Repetitions 3
#>
[CmdletBinding()]
param(
    [ValidateRange(1, 100)] [int] $Repetitions = 5,
    [ValidateRange(0, 600)] [double] $MinimumSeconds = 3,
    [string] $Device = 'cpu'
)
$ErrorActionPreference = 'Stop'
$manifest = Join-Path $PSScriptRoot '../ProtoPNet.psd1'
Import-Module $manifest -Force

$cases = @(
    @{ Backbone = 'resnet18'; ImageSize = 224; Batch = 16; Classes = 200 }
    @{ Backbone = 'smallcnn'; ImageSize = 28; Batch = 128; Classes = 10 }
)
$rows = foreach ($case in $cases) {
    $model = New-ProtoPNet -Backbone $case.Backbone -ClassCount $case.Classes -ImageSize $case.ImageSize -Device $Device -Seed 1
    try {
        $t = [ProtoPNet.Model.ForwardBenchmark]::Run($model, $case.Batch, $Repetitions, $MinimumSeconds)
        [pscustomobject]@{
            Backbone          = $t.Backbone
            Input             = '{0}×{0}' -f $t.ImageSize
            Batch             = $t.BatchSize
            Prototypes        = $t.PrototypeCount
            'Backbone img/s'  = [math]::Round($t.BackboneImagesPerSecond, 1)
            'ProtoPNet img/s' = [math]::Round($t.ModelImagesPerSecond, 1)
            'HeadOverhead%'   = [math]::Round($t.HeadOverheadPercent, 1)
            'ModelOverhead%'  = [math]::Round($t.ModelOverheadPercent, 1)
        }
    } finally { $model.Dispose() }
}
$rows | Format-Table -AutoSize | Out-String -Width 200 | Write-Host

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
