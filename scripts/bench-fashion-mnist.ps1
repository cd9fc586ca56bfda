<#
.SYNOPSIS
    Full Fashion-MNIST: a smallcnn ProtoPNet at 28×28 trained, pushed and last-layer-optimized in a fixed CPU budget,
    beside the same backbone trained as a plain classifier for the same time. Prints a table and one JSON object.
.DESCRIPTION
    Data: Debian's dataset-fashion-mnist (60,000 training images, the official 10,000 test images). 10 % of the training
    images (stratified, seeded) are held out for model selection; the test set is only used for the reported accuracy.
    ProtoPNet: -WarmEpochs + -Epochs of stage 1 (the demo's settings for a randomly initialized smallcnn), push over the
    54,000 training images, the exact last-layer solve on their similarity vectors. Baseline: smallcnn + global average
    pooling + linear layer, Adam on cross-entropy with the same learning rate, batch size, weight decay and StepLR, for as
    long as the ProtoPNet's three stages took (or -PlainSeconds), best validation epoch kept.
    Runs alone on the machine: two torch processes on 2 cores slow each other down many times over.
.EXAMPLE
    dotnet pwsh -File scripts/bench-fashion-mnist.ps1
#>
[CmdletBinding()]
param(
    [string] $DataDirectory = '/usr/share/datasets/fashion-mnist',
    [int] $WarmEpochs = 1,
    [int] $Epochs = 14,
    [int] $StepSize = 8,
    [int] $BatchSize = 64,
    [double] $BackboneLearningRate = 3e-3,
    [int] $PrototypesPerClass = 10,
    # Time budget of the baseline; default: the ProtoPNet's training + push + last layer time.
    [double] $PlainSeconds,
    [int] $Seed = 1,
    [int] $Threads = 2,
    [switch] $SkipPlain
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'Import-Experiments.ps1')   # the module and the experiment assembly (bin/experiments)
$clock = [Diagnostics.Stopwatch]::StartNew()
function Step([string] $text) { Write-Host ("[{0,7:n1} s] {1}" -f $clock.Elapsed.TotalSeconds, $text) -ForegroundColor Cyan }

$all = Import-ProtoPNetDataset $DataDirectory -Format Idx -Split Train -ClassName ([ProtoPNet.Data.IdxDataset]::FashionMnistClassNames)
$test = Import-ProtoPNetDataset $DataDirectory -Format Idx -Split Test -ClassName ([ProtoPNet.Data.IdxDataset]::FashionMnistClassNames)
$train, $validation = $all | Split-ProtoPNetDataset -ValidationFraction 0.1 -Seed $Seed
Step ("Data: {0:n0} train, {1:n0} validation, {2:n0} test" -f $train.Count, $validation.Count, $test.Count)

$result = [ordered]@{ Backbone = 'smallcnn'; ImageSize = 28; Prototypes = 10 * $PrototypesPerClass; Train = $train.Count
    Validation = $validation.Count; Test = $test.Count; Threads = $Threads; WarmEpochs = $WarmEpochs; JointEpochs = $Epochs }

$model = New-ProtoPNet -Backbone smallcnn -ClassName $all.ClassNames -PrototypesPerClass $PrototypesPerClass -ImageSize 28 -Seed $Seed -Name fashion-full
$stage = [Diagnostics.Stopwatch]::StartNew()
$model | Start-ProtoPNetTraining -Dataset $train -ValidationDataset $validation -WarmEpochs $WarmEpochs -Epochs $Epochs `
    -BatchSize $BatchSize -BackboneLearningRate $BackboneLearningRate -StepSize $StepSize -Seed $Seed -Threads $Threads -InformationAction Continue |
    Format-Table | Out-Host
$result.TrainingSeconds = [math]::Round($stage.Elapsed.TotalSeconds, 1)
$result.TestAccuracyBeforePush = ($model | Test-ProtoPNet -Dataset $test).Accuracy
Step ("Stage 1: {0:n0} s, test {1:P2}" -f $result.TrainingSeconds, $result.TestAccuracyBeforePush)

$stage.Restart()
$push = $model | Invoke-PrototypePush -Dataset $train
$result.PushSeconds = [math]::Round($stage.Elapsed.TotalSeconds, 1)
$result.TestAccuracyAfterPush = ($model | Test-ProtoPNet -Dataset $test).Accuracy
Step ("Push: {0:n1} s, mean distance moved {1:G3}, test {2:P2}" -f $result.PushSeconds, $push.MeanDistance, $result.TestAccuracyAfterPush)

$stage.Restart()
$last = $model | Optimize-LastLayer -Dataset $train
$result.LastLayerSeconds = [math]::Round($stage.Elapsed.TotalSeconds, 1)
$result.LastLayerSolveSeconds = [math]::Round($last.SolveSeconds, 1)
$result.LastLayerVectors = $last.Count
$result.LastLayerIterations = $last.Iterations
$result.LastLayerConverged = $last.Converged
$result.TestAccuracyAfterLastLayer = ($model | Test-ProtoPNet -Dataset $test).Accuracy
$result.ProtoPNetSeconds = [math]::Round($result.TrainingSeconds + $result.PushSeconds + $result.LastLayerSeconds, 1)
Step ("Last layer: {0:n1} s ({1:n1} s solve, {2} iterations on {3:n0} vectors), test {4:P2}" -f $result.LastLayerSeconds,
    $result.LastLayerSolveSeconds, $result.LastLayerIterations, $result.LastLayerVectors, $result.TestAccuracyAfterLastLayer)

if (-not $SkipPlain) {
    $budget = if ($PSBoundParameters.ContainsKey('PlainSeconds')) { $PlainSeconds } else { $result.ProtoPNetSeconds }
    $options = [ProtoPNet.Benchmarks.PlainClassifierOptions]@{ Epochs = 1000; MaxSeconds = $budget; BatchSize = $BatchSize
        LearningRate = $BackboneLearningRate; HeadLearningRate = $BackboneLearningRate; StepSize = $StepSize; Seed = $Seed }
    $plain = [ProtoPNet.Benchmarks.PlainClassifier]::Train('smallcnn', 28, $train, $validation, $options, [Action[string]] { param($line) Write-Host $line }, [Threading.CancellationToken]::None)
    try {
        $result.PlainSeconds = [math]::Round($plain.TrainingSeconds, 1)
        $result.PlainEpochs = $plain.Epochs.Count
        $result.PlainTestAccuracy = $plain.Accuracy($test, 100)
    } finally { $plain.Dispose() }
    Step ("Plain smallcnn + linear head: {0:n0} s, {1} epochs, test {2:P2}" -f $result.PlainSeconds, $result.PlainEpochs, $result.PlainTestAccuracy)
}

@(
    [pscustomobject]@{ Model = 'ProtoPNet, after stage 1'; 'Test accuracy' = '{0:P2}' -f $result.TestAccuracyBeforePush; Seconds = $result.TrainingSeconds }
    [pscustomobject]@{ Model = 'ProtoPNet, after push'; 'Test accuracy' = '{0:P2}' -f $result.TestAccuracyAfterPush; Seconds = $result.TrainingSeconds + $result.PushSeconds }
    [pscustomobject]@{ Model = 'ProtoPNet, after last layer'; 'Test accuracy' = '{0:P2}' -f $result.TestAccuracyAfterLastLayer; Seconds = $result.ProtoPNetSeconds }
    if (-not $SkipPlain) { [pscustomobject]@{ Model = 'plain smallcnn + linear head'; 'Test accuracy' = '{0:P2}' -f $result.PlainTestAccuracy; Seconds = $result.PlainSeconds } }
) | Format-Table | Out-Host
[pscustomobject]$result | ConvertTo-Json
