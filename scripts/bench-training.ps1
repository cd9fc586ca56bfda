<#
.SYNOPSIS
    The three training stages of ProtoPNet.PS in the authors'-code reference configuration; prints a table of our figures
    beside the authors' and one JSON object.
.DESCRIPTION
    Mirrors ../shared/reference/README.md: Fashion-MNIST at 64×64 (bilinear upscale, grey copied to 3 channels, ImageNet
    normalization), resnet18 with random initialization, 10 classes × 10 prototypes of 128×1×1, Bottleneck add-on, log
    similarity, batch 64 for training, 100 for test, 75 for push, 2 torch threads, the 12,000-image training subset and
    the 10,000 test images.
    Speed: joint / warm / inference images/s; push seconds per 1,000 images with and without rendering; the whole
    last-layer stage (similarity vectors + exact solve) against the authors' 20 passes; a plain resnet18 + linear head
    train step and inference. -Accuracy adds the accuracy schedule (2 warm + 3 joint epochs, push, last layer — ours and
    the authors' 5 Adam passes) and the plain-head baseline (5 epochs). -LargePrototypesPerClass repeats the speed
    figures with 200 prototypes per class (2,000, the CUB count); 0 skips them.
    The authors' figures are constants below, copied from the reference README; ratios are ours / theirs for speeds and
    theirs / ours for times. Run it alone: two torch processes on 2 cores slow each other down many times over.
.EXAMPLE
    dotnet pwsh -File scripts/bench-training.ps1 -Accuracy
#>
[CmdletBinding()]
param(
    [string] $DataDirectory = '/usr/share/datasets/fashion-mnist',
    # 0-based indices of the training subset, one per line.
    [string] $SubsetFile = (Join-Path $PSScriptRoot '../../shared/reference/fashion-mnist-train-subset-12000.txt'),
    [int] $TrainCount = 12000,
    [int] $TestCount = 10000,
    [int] $PrototypesPerClass = 10,
    [int] $LargePrototypesPerClass = 200,
    [int] $Threads = 2,
    [switch] $Accuracy
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'Import-Experiments.ps1')   # the module and the experiment assembly (bin/experiments)
$ImageSize = 64
$classes = [ProtoPNet.Data.IdxDataset]::FashionMnistClassNames
$null = New-ProtoPNet -Backbone resnet18 -ClassCount 2 -ImageSize $ImageSize   # loads TorchSharp
[TorchSharp.torch]::set_num_threads($Threads)
$torch = [TorchSharp.torch]
$none = [Threading.CancellationToken]::None

# The authors' code on our CPU (reference README): images/s, seconds per 1,000 images, accuracies.
$authors = @{
    100  = @{ Joint = 214; Warm = 625; Inference = 786; LastLayerPass = 691; Push = 1.40; PushRendered = 2.31; PlainTrain = 239; PlainInference = 762 }
    2000 = @{ Joint = 38; Warm = 51; Inference = 86; LastLayerPass = 49; Push = 3.36; PushRendered = 21.8 }
    Accuracy = @{ BeforePush = 0.8228; AfterPush = 0.7339; AfterLastLayer = 0.8098; Plain = 0.8546 }
}

# Fashion-MNIST images as 64×64 RGB tensors in memory (no per-batch resizing, as with a cached dataset).
function New-FashionDataset([string] $name, [string] $prefix, [int[]] $indices) {
    $images = [ProtoPNet.Data.IdxDataset]::ReadIdx((Join-Path $DataDirectory "$prefix-images-idx3-ubyte.gz"), 3)
    $labels = [ProtoPNet.Data.IdxDataset]::ReadIdx((Join-Path $DataDirectory "$prefix-labels-idx1-ubyte.gz"), 1)
    $all = $torch::tensor($images.Item1).reshape([long[]]@($images.Item2[0], 1, 28, 28))
    $grey = $all.index_select(0, $torch::tensor([long[]]$indices)).to([TorchSharp.torch+ScalarType]::Float32).mul([TorchSharp.Scalar](1.0 / 255))
    $resized = [TorchSharp.torch+nn+functional]::interpolate($grey, [long[]]@($ImageSize, $ImageSize), $null,
        [TorchSharp.torch+InterpolationMode]::Bilinear, $false, $false, $false)
    $y = [int[]]@(foreach ($i in $indices) { $labels.Item1[$i] })
    [ProtoPNet.Data.TensorDataset]::new($name, $resized.repeat([long[]]@(1, 3, 1, 1)).contiguous(), $y, [string[]]$classes)
}
$subset = [int[]]@(Get-Content $SubsetFile | Where-Object { $_ -match '\d' } | Select-Object -First $TrainCount | ForEach-Object { [int]$_ })
$train = New-FashionDataset 'fashion-train-subset' 'train' $subset
$test = New-FashionDataset 'fashion-test' 't10k' ([int[]]@(0..($TestCount - 1)))

function New-Model([int] $perClass) { New-ProtoPNet -Backbone resnet18 -ClassName $classes -PrototypesPerClass $perClass -ImageSize $ImageSize -Seed 1 }
function Measure-Seconds([scriptblock] $work) { $sw = [Diagnostics.Stopwatch]::StartNew(); $null = & $work; $sw.Elapsed.TotalSeconds }

# Speed of the three stages with $perClass prototypes per class.
function Measure-Stages([int] $perClass, [hashtable] $theirs) {
    $r = [ordered]@{ Prototypes = 10 * $perClass }
    $model = New-Model $perClass
    # Warm: the frozen backbone's output is computed once, then every warm epoch reuses it.
    $wall = Measure-Seconds { $script:warm = @($model | Start-ProtoPNetTraining -Dataset $train -WarmEpochs 2 -Epochs 0 -BatchSize 64 -Seed 1) }
    $cacheBuild = $wall - ($warm | Measure-Object Seconds -Sum).Sum
    $r.WarmCachedEpochImagesPerSecond = [math]::Round($warm[-1].ImagesPerSecond, 1)
    $r.WarmCacheBuildSeconds = [math]::Round($cacheBuild, 2)
    # The authors run 5 warm epochs: one cache build, then five epochs from the cache.
    $r.WarmImagesPerSecond = [math]::Round(5 * $train.Count / ($cacheBuild + 5 * $train.Count / $warm[-1].ImagesPerSecond), 1)
    $joint = @($model | Start-ProtoPNetTraining -Dataset $train -WarmEpochs 0 -Epochs 1 -BatchSize 64 -Seed 1)
    $r.JointImagesPerSecond = [math]::Round($joint[-1].ImagesPerSecond, 1)
    $r.InferenceImagesPerSecond = [math]::Round(($model | Test-ProtoPNet -Dataset $test -BatchSize 100).ImagesPerSecond, 1)
    # Push: exact, and with the bfloat16 shortlist (on a copy of the same trained model, to compare where prototypes land).
    $snapshot = Join-Path ([IO.Path]::GetTempPath()) ("ptpn-bench-" + [guid]::NewGuid().ToString('N') + '.ptpn')
    $model | Export-ProtoPNet -LiteralPath $snapshot
    $exact = $model | Invoke-PrototypePush -Dataset $train -BatchSize 75
    $r.PushSecondsPer1000 = [math]::Round($exact.SecondsPer1000Images, 3)
    $copy = Import-ProtoPNet -LiteralPath $snapshot
    $short = $copy | Invoke-PrototypePush -Dataset $train -BatchSize 75 -Search Shortlist
    $copy.Dispose()
    $r.PushShortlistSecondsPer1000 = [math]::Round($short.SecondsPer1000Images, 3)
    $r.ShortlistImages = $short.ShortlistCount
    $r.ShortlistSamePatches = @(0..($exact.Prototypes.Count - 1) | Where-Object {
        $a = $exact.Prototypes[$_]; $b = $short.Prototypes[$_]
        $a.SourceIndex -eq $b.SourceIndex -and $a.LatentRow -eq $b.LatentRow -and $a.LatentColumn -eq $b.LatentColumn }).Count
    $renderDirectory = Join-Path ([IO.Path]::GetTempPath()) ("ptpn-bench-" + [guid]::NewGuid().ToString('N'))
    $r.PushRenderedSecondsPer1000 = [math]::Round(($model | Invoke-PrototypePush -Dataset $train -BatchSize 75 -OutputDirectory $renderDirectory).SecondsPer1000Images, 3)
    Remove-Item -Recurse -Force $renderDirectory
    $copy = Import-ProtoPNet -LiteralPath $snapshot
    $r.PushShortlistRenderedSecondsPer1000 = [math]::Round(($copy | Invoke-PrototypePush -Dataset $train -BatchSize 75 -Search Shortlist -OutputDirectory $renderDirectory).SecondsPer1000Images, 3)
    $copy.Dispose()
    Remove-Item -Recurse -Force $renderDirectory
    Remove-Item -LiteralPath $snapshot
    # The whole last-layer stage: similarity vectors once, then the exact solve; the authors run 20 passes of the network.
    $last = $model | Optimize-LastLayer -Dataset $train
    $r.LastLayerSeconds = [math]::Round($last.Seconds, 2)
    $r.LastLayerSolveSeconds = [math]::Round($last.SolveSeconds, 2)
    $r.LastLayerIterations = $last.Iterations
    $r.LastLayerConverged = $last.Converged
    $authorsLastLayer = 20 * $train.Count / $theirs.LastLayerPass
    $r.Ratios = [ordered]@{
        Joint = [math]::Round($r.JointImagesPerSecond / $theirs.Joint, 2)
        Warm = [math]::Round($r.WarmImagesPerSecond / $theirs.Warm, 2)
        Inference = [math]::Round($r.InferenceImagesPerSecond / $theirs.Inference, 2)
        Push = [math]::Round($theirs.Push / $r.PushSecondsPer1000, 2)
        PushRendered = [math]::Round($theirs.PushRendered / $r.PushRenderedSecondsPer1000, 2)
        PushShortlist = [math]::Round($theirs.Push / $r.PushShortlistSecondsPer1000, 2)
        PushShortlistRendered = [math]::Round($theirs.PushRendered / $r.PushShortlistRenderedSecondsPer1000, 2)
        LastLayerStage = [math]::Round($authorsLastLayer / $r.LastLayerSeconds, 2)
    }
    $r.PushOverInference = [math]::Round($r.PushSecondsPer1000 / (1000 / $r.InferenceImagesPerSecond), 2)
    $model.Dispose()
    $r
}

$result = [ordered]@{ Backbone = 'resnet18'; ImageSize = $ImageSize; TrainImages = $train.Count; TestImages = $test.Count; Threads = $Threads }
$result.Small = Measure-Stages $PrototypesPerClass $authors[100]

# The same backbone as a plain classifier (average pool + linear head): train step and inference speed.
$plain = [ProtoPNet.Benchmarks.PlainClassifier]::Train('resnet18', $ImageSize, $train, $null,
    [ProtoPNet.Benchmarks.PlainClassifierOptions]@{ Epochs = 1; MaxSeconds = 10; BatchSize = 64 }, $null, $none)
$result.PlainTrainImagesPerSecond = [math]::Round($plain.Epochs[0].Images / $plain.Epochs[0].Seconds, 1)
$sw = [Diagnostics.Stopwatch]::StartNew(); $null = $plain.Accuracy($test, 100)
$result.PlainInferenceImagesPerSecond = [math]::Round($test.Count / $sw.Elapsed.TotalSeconds, 1)
$plain.Dispose()
$result.JointStepOverPlainStep = [math]::Round($result.PlainTrainImagesPerSecond / $result.Small.JointImagesPerSecond, 3)

if ($LargePrototypesPerClass -gt 0) { $result.Large = Measure-Stages $LargePrototypesPerClass $authors[2000] }

if ($Accuracy) {
    $m = New-Model $PrototypesPerClass
    $null = $m | Start-ProtoPNetTraining -Dataset $train -WarmEpochs 2 -Epochs 3 -BatchSize 64 -Seed 1
    $result.TestAccuracyBeforePush = ($m | Test-ProtoPNet -Dataset $test).Accuracy
    $null = $m | Invoke-PrototypePush -Dataset $train -BatchSize 75
    $result.TestAccuracyAfterPush = ($m | Test-ProtoPNet -Dataset $test).Accuracy
    # The authors' last layer (5 Adam passes) on a copy of the pushed model, then ours (the exact solve).
    $pushed = Join-Path ([IO.Path]::GetTempPath()) ("ptpn-bench-" + [guid]::NewGuid().ToString('N') + '.ptpn')
    $m | Export-ProtoPNet -LiteralPath $pushed
    $copy = Import-ProtoPNet -LiteralPath $pushed
    Remove-Item -LiteralPath $pushed
    $null = $copy | Optimize-LastLayer -Dataset $train -Method Adam -Passes 5 -BatchSize 64 -Seed 1
    $result.TestAccuracyAfterLastLayerAdam5 = ($copy | Test-ProtoPNet -Dataset $test).Accuracy
    $copy.Dispose()
    $null = $m | Optimize-LastLayer -Dataset $train
    $result.TestAccuracyAfterLastLayer = ($m | Test-ProtoPNet -Dataset $test).Accuracy
    $m.Dispose()
    $baseline = [ProtoPNet.Benchmarks.PlainClassifier]::Train('resnet18', $ImageSize, $train, $null,
        [ProtoPNet.Benchmarks.PlainClassifierOptions]@{ Epochs = 5; BatchSize = 64; LearningRate = 1e-4; HeadLearningRate = 3e-3 }, $null, $none)
    $result.PlainHeadTestAccuracy = $baseline.Accuracy($test, 100)
    $baseline.Dispose()
}

# Our figures beside the authors'.
$rows = foreach ($size in @('Small', 'Large')) {
    if (-not $result.Contains($size)) { continue }
    $r = $result[$size]; $t = $authors[[int]$r.Prototypes]
    [pscustomobject]@{ Figure = "joint training, img/s"; Prototypes = $r.Prototypes; Ours = $r.JointImagesPerSecond; Authors = $t.Joint; Ratio = $r.Ratios.Joint }
    [pscustomobject]@{ Figure = "warm training (5 epochs), img/s"; Prototypes = $r.Prototypes; Ours = $r.WarmImagesPerSecond; Authors = $t.Warm; Ratio = $r.Ratios.Warm }
    [pscustomobject]@{ Figure = "inference, img/s"; Prototypes = $r.Prototypes; Ours = $r.InferenceImagesPerSecond; Authors = $t.Inference; Ratio = $r.Ratios.Inference }
    [pscustomobject]@{ Figure = "push, s/1000 img"; Prototypes = $r.Prototypes; Ours = $r.PushSecondsPer1000; Authors = $t.Push; Ratio = $r.Ratios.Push }
    [pscustomobject]@{ Figure = "push rendered, s/1000 img"; Prototypes = $r.Prototypes; Ours = $r.PushRenderedSecondsPer1000; Authors = $t.PushRendered; Ratio = $r.Ratios.PushRendered }
    [pscustomobject]@{ Figure = "push -Search Shortlist, s/1000 img ($($r.ShortlistSamePatches) of $($r.Prototypes) patches as exact)"; Prototypes = $r.Prototypes; Ours = $r.PushShortlistSecondsPer1000; Authors = $t.Push; Ratio = $r.Ratios.PushShortlist }
    [pscustomobject]@{ Figure = "push -Search Shortlist rendered, s/1000 img"; Prototypes = $r.Prototypes; Ours = $r.PushShortlistRenderedSecondsPer1000; Authors = $t.PushRendered; Ratio = $r.Ratios.PushShortlistRendered }
    [pscustomobject]@{ Figure = "last-layer stage, s"; Prototypes = $r.Prototypes; Ours = $r.LastLayerSeconds; Authors = [math]::Round(20 * $train.Count / $t.LastLayerPass, 1); Ratio = $r.Ratios.LastLayerStage }
}
if ($Accuracy) {
    $a = $authors.Accuracy
    $rows += [pscustomobject]@{ Figure = 'test accuracy before push'; Prototypes = 100; Ours = $result.TestAccuracyBeforePush; Authors = $a.BeforePush; Ratio = $null }
    $rows += [pscustomobject]@{ Figure = 'test accuracy after push'; Prototypes = 100; Ours = $result.TestAccuracyAfterPush; Authors = $a.AfterPush; Ratio = $null }
    $rows += [pscustomobject]@{ Figure = 'test accuracy after last layer (exact)'; Prototypes = 100; Ours = $result.TestAccuracyAfterLastLayer; Authors = $a.AfterLastLayer; Ratio = $null }
    $rows += [pscustomobject]@{ Figure = 'test accuracy after 5 Adam passes'; Prototypes = 100; Ours = $result.TestAccuracyAfterLastLayerAdam5; Authors = $a.AfterLastLayer; Ratio = $null }
    $rows += [pscustomobject]@{ Figure = 'plain head, 5 epochs'; Prototypes = 0; Ours = $result.PlainHeadTestAccuracy; Authors = $a.Plain; Ratio = $null }
}
$rows | Format-Table -AutoSize | Out-String -Width 200 | Write-Host
[pscustomobject]$result | ConvertTo-Json -Depth 4
