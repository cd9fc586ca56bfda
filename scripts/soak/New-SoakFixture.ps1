<#
.SYNOPSIS
    The inputs the soak's work kinds share, made once in a child process: a Fashion-MNIST model file (fashion.ptpn), a
    planted-part set with a model trained on it (planted/, planted.ptpn) and 400 PNG files to explain (images/).
#>
[CmdletBinding()]
param([Parameter(Mandatory)] [string] $Path, [int] $Seed = 1)
$ErrorActionPreference = 'Stop'
$root = Join-Path $PSScriptRoot '../..'
. (Join-Path $root 'scripts/Import-Experiments.ps1')
New-Item -ItemType Directory -Force $Path | Out-Null

$fashion = Join-Path $root 'data/fashion-mnist-sample'
$all = Import-ProtoPNetDataset $fashion -Format Idx -Split Train
$model = New-ProtoPNet -Backbone smallcnn -ClassName $all.ClassNames -ImageSize 28 -Seed $Seed -Name soak-fashion
$model | Start-ProtoPNetTraining -Dataset $all -WarmEpochs 1 -Epochs 4 -BatchSize 32 -BackboneLearningRate 3e-3 -Seed $Seed -PassThru |
    Invoke-PrototypePush -Dataset $all -PassThru | Optimize-LastLayer -Dataset $all -PassThru | Out-Null
$model | Export-ProtoPNet -LiteralPath (Join-Path $Path 'fashion.ptpn') -Force

$options = [ProtoPNet.Benchmarks.PlantedPartOptions]@{ ImageSize = 64; ClassCount = 8; TrainPerClass = 40; TestPerClass = 50; GlyphSize = 14; Distractors = 2; Seed = $Seed }
$planted = [ProtoPNet.Benchmarks.PlantedPartSet]::Write((Join-Path $Path 'planted'), $options)
$train = Import-ProtoPNetDataset $planted.TrainPath
$plantedModel = New-ProtoPNet -Backbone smallcnn -ClassName $train.ClassNames -ImageSize 64 -Seed $Seed -Name soak-planted
$plantedModel | Start-ProtoPNetTraining -Dataset $train -BackboneEpochs 2 -WarmEpochs 1 -Epochs 2 -Seed $Seed -PassThru |
    Invoke-PrototypePush -Dataset $train -PassThru | Optimize-LastLayer -Dataset $train -PassThru | Out-Null
$plantedModel | Export-ProtoPNet -LiteralPath (Join-Path $Path 'planted.ptpn') -Force

$images = New-Item -ItemType Directory -Force (Join-Path $Path 'images')
Get-ChildItem $planted.TestPath -Recurse -Filter *.png | Select-Object -First 400 | ForEach-Object -Begin { $i = 0 } -Process {
    Copy-Item $_.FullName (Join-Path $images ('{0:d4}.png' -f $i++))
}
"Fixtures in $Path"
