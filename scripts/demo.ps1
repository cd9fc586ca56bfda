<#
.SYNOPSIS
    The main job on the bundled data: trains, pushes, optimizes, tests and explains a ProtoPNet on the
    Fashion-MNIST sample (6,000 training / 1,000 test images), with a second push/last-layer cycle.
.DESCRIPTION
    Run through 'dotnet pwsh ./build.ps1 -Task Demo' (which builds the module first). Writes everything to
    -OutputDirectory: the model file, prototype pictures, explanations.csv and HTML scoring sheets.

    The backbone is the small CPU-friendly CNN at 28×28 (a 7×7 latent grid whose cells see 16×16 pixels, so
    boxes point at parts). It starts from random weights, not ImageNet, so it learns at 3e-3 instead of the
    authors' 1e-4 for a pretrained backbone, with batches of 32 (more steps on a small set) and the StepLR
    decay after 15 joint epochs instead of 5; the loss, the other learning rates, push and the last-layer
    problem are the authors'.

    Stage 1 writes a checkpoint after every epoch to <OutputDirectory>/checkpoints. If the run is stopped or the host
    process dies, run it again with -Resume: stage 1 continues after its last completed epoch, exactly as an
    uninterrupted run would, and the later stages (seconds each) run again.
#>
[CmdletBinding()]
param(
    [string] $OutputDirectory = (Join-Path $PSScriptRoot '../out/demo'),
    [int] $Seed = 1,
    [int] $WarmEpochs = 1,
    [int] $Epochs = 30,
    [int] $CycleEpochs = 3,
    [int] $BatchSize = 32,
    [double] $BackboneLearningRate = 3e-3,
    # Continue stage 1 from the checkpoint a stopped or crashed run left (a fresh start when there is none).
    [switch] $Resume
)
$ErrorActionPreference = 'Stop'
$clock = [Diagnostics.Stopwatch]::StartNew()
Import-Module (Join-Path $PSScriptRoot '../ProtoPNet.psd1') -Force
$OutputDirectory = New-Item -ItemType Directory -Force $OutputDirectory | Select-Object -ExpandProperty FullName
$data = Join-Path $PSScriptRoot '../data/fashion-mnist-sample'

function Step([string] $text) { Write-Host ("[{0,6:n1} s] {1}" -f $clock.Elapsed.TotalSeconds, $text) -ForegroundColor Cyan }

Step 'Data: the bundled Fashion-MNIST sample, 10 % of the training images held out for model selection'
$all = Import-ProtoPNetDataset $data -Format Idx -Split Train
$test = Import-ProtoPNetDataset $data -Format Idx -Split Test
$train, $validation = $all | Split-ProtoPNetDataset -ValidationFraction 0.1 -Seed $Seed

$model = New-ProtoPNet -Backbone smallcnn -ClassName $all.ClassNames -ImageSize 28 -Seed $Seed -Name fashion-demo
$initialPrototypes = $model.PrototypeCount
$model | Format-List | Out-Host

$accuracy = [ordered]@{}
function Measure-Stage([string] $stage) {
    $r = $model | Test-ProtoPNet -Dataset $test
    $accuracy[$stage] = $r.Accuracy
    Step ("Test accuracy {0}: {1:P2}" -f $stage, $r.Accuracy)
}

Step "Stage 1: 3 backbone epochs (the default for a random backbone) + $WarmEpochs warm + $Epochs joint epochs (CE + 0.8·Clst − 0.08·Sep + 1e-4·L1, Adam)"
$model | Start-ProtoPNetTraining -Dataset $train -ValidationDataset $validation -WarmEpochs $WarmEpochs -Epochs $Epochs `
    -BatchSize $BatchSize -BackboneLearningRate $BackboneLearningRate -StepSize 15 -Seed $Seed `
    -CheckpointDirectory (Join-Path $OutputDirectory 'checkpoints') -Resume:$Resume |
    Format-Table | Out-Host
Measure-Stage 'after training'

Step 'Stage 2: push every prototype onto its nearest training patch of its own class'
$model | Invoke-PrototypePush -Dataset $train -ComparisonDataset $validation -OutputDirectory (Join-Path $OutputDirectory 'prototypes') |
    Format-List Pushed, DistinctPatches, Removed, Kept, MeanDistance, MaxDistance, PredictionsChanged, ComparisonCount, Seconds | Out-Host
Measure-Stage 'after push'

Step 'Stage 3: convex last-layer solve (proximal Newton), wrong-class weights driven to zero'
$model | Optimize-LastLayer -Dataset $train | Format-List Objective, Optimality, Converged, WrongClassSparsity, Accuracy, Seconds | Out-Host
Measure-Stage 'after last layer'

Step "Cycle 2: $CycleEpochs joint epochs, push, last layer"
$model | Start-ProtoPNetTraining -Dataset $train -ValidationDataset $validation -WarmEpochs 0 -Epochs $CycleEpochs -BatchSize $BatchSize `
    -BackboneLearningRate ($BackboneLearningRate / 10) -AddOnLearningRate 3e-4 -PrototypeLearningRate 3e-4 -Seed ($Seed + 1) | Format-Table | Out-Host
$model | Invoke-PrototypePush -Dataset $train -OutputDirectory (Join-Path $OutputDirectory 'prototypes') | Out-Null
$model | Optimize-LastLayer -Dataset $train | Out-Null
Measure-Stage 'after cycle 2'

$final = $model | Test-ProtoPNet -Dataset $test

Step 'Prototypes: which the model kept, and whether they are the garment'
# Fashion-MNIST's background is exactly 0: a prototype's receptive window is "mostly garment" when more than half of its
# source image's pixels in it are not 0. Weight: each prototype's last-layer weight for its own class.
$indexOf = @{}
for ($i = 0; $i -lt $all.Count; $i++) { $indexOf[$all.SourceOf($i)] = $i }
$prototypes = $model | Get-Prototype -Dataset $test -OutputDirectory (Join-Path $OutputDirectory 'gallery') -PushDataset $all
$onObject = foreach ($p in $prototypes) {
    $item = $all.Load($indexOf[$p.SourceImage], 28)
    try {
        $pixels = $item.Pixels.data[float]().ToArray()
        $inside = 0; $garment = 0
        for ($y = $p.WindowY; $y -lt $p.WindowY + $p.WindowHeight; $y++) {
            for ($x = $p.WindowX; $x -lt $p.WindowX + $p.WindowWidth; $x++) { $inside++; if ($pixels[$y * 28 + $x] -gt 0) { $garment++ } }
        }
        [pscustomobject]@{ Index = $p.Index; Garment = $garment / [math]::Max(1, $inside); Weight = [math]::Max(0, $p.Weight) }
    } finally { $item.Dispose() }
}
$mostly = @($onObject | Where-Object Garment -GT 0.5)
$weightShare = ($mostly | Measure-Object Weight -Sum).Sum / [math]::Max(1e-12, ($onObject | Measure-Object Weight -Sum).Sum)
Step ("{0} of {1} prototypes kept; {2} ({3:P0}) have a window that is mostly garment, carrying {4:P1} of the own-class weight" -f
    $model.PrototypeCount, $initialPrototypes, $mostly.Count, ($mostly.Count / $model.PrototypeCount), $weightShare)
$modelFile = Join-Path $OutputDirectory 'fashion-demo.ptpn'
$model | Export-ProtoPNet $modelFile

Step 'Explaining 20 test images (2 per class) to a CSV and HTML scoring sheets'
$indices = foreach ($c in 0..($test.ClassNames.Count - 1)) {
    (0..($test.Count - 1)).Where({ $test.LabelOf($_) -eq $c }, 'First', 2)
}
$csv = Join-Path $OutputDirectory 'explanations.csv'
$sheets = Join-Path $OutputDirectory 'explanations'
Get-Explanation -Dataset $test -Index $indices -Model $model -Top 5 -OutputDirectory $sheets -PushDataset $all |
    Export-Csv $csv -NoTypeInformation
Import-Csv $csv | Select-Object -First 5 | Format-Table ImageIndex, TrueClass, PredictedClass, Rank, PrototypeClass, Similarity, Weight, Contribution | Out-Host

Write-Host ''
Write-Host 'Test accuracy on the 1,000 sample test images' -ForegroundColor Green
$accuracy.GetEnumerator() | ForEach-Object { [pscustomobject]@{ Stage = $_.Key; Accuracy = '{0:P2}' -f $_.Value } } | Format-Table | Out-Host
$final.PerClass | Format-Table | Out-Host
Write-Host ("Model:           {0}" -f $modelFile)
Write-Host ("Explanations:    {0}" -f $csv)
Write-Host ("Scoring sheets:  {0}" -f (Join-Path $sheets 'index.html'))
Write-Host ("Prototypes:      {0}" -f (Join-Path $OutputDirectory 'prototypes'))
Write-Host ("Gallery:         {0}" -f (Join-Path $OutputDirectory 'gallery/prototypes.html'))
Write-Host ("Total time:      {0:n0} s" -f $clock.Elapsed.TotalSeconds)
