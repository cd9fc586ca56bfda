<#
.SYNOPSIS
    The three training stages of ProtoPNet.PS in the authors'-code reference configuration; prints a table of our figures
    beside the authors' and one JSON object.
.DESCRIPTION
    Mirrors ../shared/reference/README.md: Fashion-MNIST at 64×64 (bilinear upscale, grey copied to 3 channels, ImageNet
    normalization), resnet18 with random initialization, 10 classes × 10 prototypes of 128×1×1, Bottleneck add-on, log
    similarity, batch 64 for training, 100 for test, 75 for push, 2 torch threads, the 12,000-image training subset and
    the 10,000 test images.
    Speed: joint / warm / inference images/s; push seconds per 1,000 images with and without rendering, after a joint
    epoch and right after warm-only training (from the backbone features training kept); the whole
    last-layer stage (similarity vectors + exact solve) against the authors' 20 passes; a plain resnet18 + linear head
    train step and inference. -Accuracy adds the accuracy schedule (2 warm + 3 joint epochs, push, last layer — ours and
    the authors' 5 Adam passes; the authors' rates, -WarmBatchNorm Frozen or Train), once per seed of -AccuracySeeds,
    with how near each pushed prototype's nearest own-class and other-class test patches are, and the plain-head
    baseline (5 epochs). -LargePrototypesPerClass repeats the speed figures with 200 prototypes per class (2,000, the CUB count)
    on the first -LargeTrainCount training images (the last layer on all of them); 0 skips them.
    Every speed figure is the median of -Repeats interleaved rounds (each round measures every figure once), printed
    with its min and max and the load average at start and end.
    The authors' figures are constants below, copied from the reference README; ratios are ours / theirs for speeds and
    theirs / ours for times. Those constants were measured on another machine in another hour: where python3 with torch
    and torchvision is installed (-PyTorch; Debian: python3-torch python3-torchvision), every round also times PyTorch's
    own plain resnet18 here (scripts/bench-pytorch.py, train step and inference), and the table adds the authors'
    figures scaled to this machine by PyTorch today ÷ PyTorch in the reference table (training figures by the train
    step's factor, the forward-dominated ones — warm, inference, push, last layer — by inference's), with the ratios
    against those. Before the first round an untimed warm-up epoch and test pass let the C allocator reach its working
    size (docs/performance.md, "Native settings"), which would otherwise slow the first round's figures.
    Run it alone: two torch processes on 2 cores slow each other down many times over.
.EXAMPLE
    dotnet pwsh -File scripts/bench-training.ps1 -Accuracy
.EXAMPLE
    dotnet pwsh -Command './scripts/bench-training.ps1 -Accuracy -AccuracySeeds 1,2,3 -LargePrototypesPerClass 0'
    Three seeds of the accuracy schedule (-File would pass "1,2,3" as one string, read as the number 123).
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
    # Training images for the 2,000-prototype figures (speeds are per image; the last-layer comparison scales with the count).
    [int] $LargeTrainCount = 3000,
    [int] $Threads = 2,
    [ValidateRange(1, 20)] [int] $Repeats = 3,
    [switch] $Accuracy,
    # Seeds of the -Accuracy schedule (the model's and the training's seed); every seed is one run, the table gives their median, min and max.
    [int[]] $AccuracySeeds = @(1),
    [ValidateSet('Frozen', 'Train')] [string] $WarmBatchNorm = 'Frozen',
    # The backbone's arithmetic in the -Accuracy schedule (the speed rounds measure the joint epoch in both).
    [ValidateSet('Float32', 'BFloat16')] [string] $Precision = 'Float32',
    # The python that runs scripts/bench-pytorch.py (then the system's python3); '' measures no PyTorch yardstick.
    [string] $PyTorch = 'python3'
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
# $lastLayerTrain: the images of the last-layer stage (all training images: with fewer images than prototypes the vectors
# are separable by the own-class weights alone and the problem has no minimizer).
function Measure-Stages([int] $perClass, $train, $lastLayerTrain) {
    $r = [ordered]@{ Prototypes = 10 * $perClass; TrainImages = $train.Count }
    $model = New-Model $perClass
    # Warm: the frozen backbone's output is computed once, then every warm epoch reuses it.
    $wall = Measure-Seconds { $script:warm = @($model | Start-ProtoPNetTraining -Dataset $train -WarmEpochs 2 -Epochs 0 -BatchSize 64 -Seed 1) }
    $cacheBuild = $wall - ($warm | Measure-Object Seconds -Sum).Sum
    $r.WarmCachedEpochImagesPerSecond = [math]::Round($warm[-1].ImagesPerSecond, 1)
    $r.WarmCacheBuildSeconds = [math]::Round($cacheBuild, 2)
    # The authors run 5 warm epochs: one cache build, then five epochs from the cache.
    $r.WarmImagesPerSecond = [math]::Round(5 * $train.Count / ($cacheBuild + 5 * $train.Count / $warm[-1].ImagesPerSecond), 1)
    # Push right after that warm-only training: the model kept the frozen backbone's output over $train, so the exact
    # push runs only the add-on over it (docs/performance.md, "Feature cache"). It moves the prototypes before the
    # epochs below, whose speed does not depend on where they lie; the joint epoch drops the kept features.
    $kept = $model | Invoke-PrototypePush -Dataset $train -BatchSize 75
    if (-not $kept.FromKeptFeatures) { throw 'The push after warm-only training did not start from the kept backbone features.' }
    $r.PushKeptSecondsPer1000 = [math]::Round($kept.SecondsPer1000Images, 3)
    $renderDirectory = Join-Path ([IO.Path]::GetTempPath()) ("ptpn-bench-" + [guid]::NewGuid().ToString('N'))
    $r.PushKeptRenderedSecondsPer1000 = [math]::Round(($model | Invoke-PrototypePush -Dataset $train -BatchSize 75 -OutputDirectory $renderDirectory).SecondsPer1000Images, 3)
    Remove-Item -Recurse -Force $renderDirectory
    $joint = @($model | Start-ProtoPNetTraining -Dataset $train -WarmEpochs 0 -Epochs 1 -BatchSize 64 -Seed 1)
    $r.JointImagesPerSecond = [math]::Round($joint[-1].ImagesPerSecond, 1)
    # The same joint epoch with the backbone's convolutions in bfloat16 (float32 master weights).
    $joint = @($model | Start-ProtoPNetTraining -Dataset $train -WarmEpochs 0 -Epochs 1 -BatchSize 64 -Seed 1 -Precision BFloat16)
    $r.JointBFloat16ImagesPerSecond = [math]::Round($joint[-1].ImagesPerSecond, 1)
    $r.InferenceImagesPerSecond = [math]::Round(($model | Test-ProtoPNet -Dataset $test -BatchSize 100).ImagesPerSecond, 1)
    $r.InferenceBFloat16ImagesPerSecond = [math]::Round(($model | Test-ProtoPNet -Dataset $test -BatchSize 100 -Precision BFloat16).ImagesPerSecond, 1)
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
    $last = $model | Optimize-LastLayer -Dataset $lastLayerTrain
    $r.LastLayerImages = $lastLayerTrain.Count
    $r.LastLayerSeconds = [math]::Round($last.Seconds, 2)
    $r.LastLayerSolveSeconds = [math]::Round($last.SolveSeconds, 2)
    $r.LastLayerIterations = $last.Iterations
    $r.LastLayerConverged = [int]$last.Converged
    $r.PushOverInference = [math]::Round($r.PushSecondsPer1000 / (1000 / $r.InferenceImagesPerSecond), 2)
    $model.Dispose()
    $r
}

# One figure's median, min and max over the repeats.
function Get-FigureSpread([object[]] $runs, [string] $name) { Get-Spread ([double[]]@($runs | ForEach-Object { $_[$name] })) }

$loadAtStart = (Get-Content /proc/loadavg) -replace ' \S+ \S+$'
$result = [ordered]@{ Backbone = 'resnet18'; ImageSize = $ImageSize; TrainImages = $train.Count; TestImages = $test.Count; Threads = $Threads; Repeats = $Repeats }
# With 2,000 prototypes the joint epoch runs at a fifth of the speed: its figures come from the first -LargeTrainCount images.
$largeTrain = if ($LargeTrainCount -lt $train.Count) { New-FashionDataset 'fashion-train-subset-large' 'train' ([int[]]@($subset | Select-Object -First $LargeTrainCount)) } else { $train }
$small = @(); $large = @(); $plainRuns = @(); $pytorchRuns = @()
# The PyTorch yardstick, when this machine has it: the first of -PyTorch's pythons that imports torch and torchvision
# (Debian's packages install into the system python, which another python first on PATH may hide).
$yardstick = Join-Path $PSScriptRoot 'bench-pytorch.py'
$python = if ($PyTorch) {
    @($PyTorch, '/usr/bin/python3') | Select-Object -Unique | Where-Object { Get-Command $_ -ErrorAction Ignore } |
        Where-Object { & $_ -c 'import torch, torchvision' 2>$null; $LASTEXITCODE -eq 0 } | Select-Object -First 1
}
if ($PyTorch -and -not $python) { Write-Warning "No python with torch and torchvision: no PyTorch yardstick (Debian: apt-get install python3-torch python3-torchvision)." }
# Untimed warm-up: glibc's heaps grow to the run's working size over the first passes (page faults and system time).
$warmup = New-Model $PrototypesPerClass
$null = $warmup | Start-ProtoPNetTraining -Dataset $largeTrain -WarmEpochs 0 -Epochs 1 -BatchSize 64 -Seed 1 -WarningAction SilentlyContinue
$null = $warmup | Test-ProtoPNet -Dataset $test -BatchSize 100
$warmup.Dispose()
# Interleaved repeats: every figure once per round, so a slow spell of the machine touches every figure alike.
for ($round = 1; $round -le $Repeats; $round++) {
    Write-Host "Round $round of $Repeats (load $((Get-Content /proc/loadavg) -replace ' \S+ \S+$'))"
    $small += Measure-Stages $PrototypesPerClass $train $train
    # The same backbone as a plain classifier (average pool + linear head): train step and inference speed.
    $plain = [ProtoPNet.Benchmarks.PlainClassifier]::Train('resnet18', $ImageSize, $train, $null,
        [ProtoPNet.Benchmarks.PlainClassifierOptions]@{ Epochs = 1; MaxSeconds = 20; BatchSize = 64 }, $null, $none)
    $p = [ordered]@{ PlainTrainImagesPerSecond = $plain.Epochs[0].Images / $plain.Epochs[0].Seconds }
    $sw = [Diagnostics.Stopwatch]::StartNew(); $null = $plain.Accuracy($test, 100)
    $p.PlainInferenceImagesPerSecond = $test.Count / $sw.Elapsed.TotalSeconds
    $plain.Dispose()
    $plainRuns += $p
    if ($python) {
        $py = & $python $yardstick --repeats 1 --seconds 8 --threads $Threads | ConvertFrom-Json
        $pytorchRuns += [ordered]@{ TrainImagesPerSecond = $py.train_images_per_second[0]; InferenceImagesPerSecond = $py.inference_images_per_second[0] }
    }
    if ($LargePrototypesPerClass -gt 0) { $large += Measure-Stages $LargePrototypesPerClass $largeTrain $train }
}
$result.Small = $small; $result.Large = $large; $result.Plain = $plainRuns; $result.PyTorch = $pytorchRuns
# How fast this machine runs PyTorch now against the reference machine (1 when not measured: no scaled columns).
$trainScale = 1; $inferenceScale = 1
if ($pytorchRuns.Count -gt 0) {
    $trainScale = (Get-FigureSpread $pytorchRuns TrainImagesPerSecond).Median / $authors[100].PlainTrain
    $inferenceScale = (Get-FigureSpread $pytorchRuns InferenceImagesPerSecond).Median / $authors[100].PlainInference
    $result.PyTorchTrainScale = [math]::Round($trainScale, 3); $result.PyTorchInferenceScale = [math]::Round($inferenceScale, 3)
}

# After push every prototype is one training patch. How near is its nearest test patch of another class, against the
# nearest of its own class (squared L2; Find-NearestPatch ranks every one of the first 1,000 test images)? When both are
# alike, the pushed prototype scores other classes' images as high as its own class's, and push costs accuracy
# (docs/algorithm.md §1).
function Measure-PushedNeighbours($model, $images) {
    $own = [Collections.Generic.List[double]]::new(); $other = [Collections.Generic.List[double]]::new()
    foreach ($group in $model | Find-NearestPatch -Dataset $images -K $images.Count -NoBox | Group-Object PrototypeIndex) {
        # Nearest first: the first row of each kind is that kind's nearest patch.
        $own.Add(($group.Group | Where-Object { $_.ImageClass -eq $_.PrototypeClass } | Select-Object -First 1).Distance)
        $other.Add(($group.Group | Where-Object { $_.ImageClass -ne $_.PrototypeClass } | Select-Object -First 1).Distance)
    }
    [ordered]@{ NearestOwnClassPatch = (Get-Spread $own).Median; NearestOtherClassPatch = (Get-Spread $other).Median }
}

if ($Accuracy) {
    # The authors' reference schedule with the authors' rates (a random backbone would otherwise get the from-scratch recipe's).
    $result.WarmBatchNorm = $WarmBatchNorm
    $result.Precision = $Precision
    $neighbourImages = New-FashionDataset 'fashion-test-neighbours' 't10k' ([int[]]@(0..([math]::Min(1000, $TestCount) - 1)))
    $result.AccuracyRuns = @(foreach ($seed in $AccuracySeeds) {
        Write-Host "Accuracy schedule, seed $seed (load $(Get-LoadAverage -All))"
        $run = [ordered]@{ Seed = $seed }
        $m = New-ProtoPNet -Backbone resnet18 -ClassName $classes -PrototypesPerClass $PrototypesPerClass -ImageSize $ImageSize -Seed $seed
        $null = $m | Start-ProtoPNetTraining -Dataset $train -WarmEpochs 2 -Epochs 3 -BatchSize 64 -Seed $seed -BackboneLearningRate 1e-4 -StepSize 5 -WarmBatchNorm $WarmBatchNorm -Precision $Precision
        $run.BeforePush = ($m | Test-ProtoPNet -Dataset $test).Accuracy
        $null = $m | Invoke-PrototypePush -Dataset $train -BatchSize 75
        $run.AfterPush = ($m | Test-ProtoPNet -Dataset $test).Accuracy
        $run.PushedPrototypes = Measure-PushedNeighbours $m $neighbourImages
        # The authors' last layer (5 Adam passes) on a copy of the pushed model, then ours (the exact solve).
        $pushed = Join-Path ([IO.Path]::GetTempPath()) ("ptpn-bench-" + [guid]::NewGuid().ToString('N') + '.ptpn')
        $m | Export-ProtoPNet -LiteralPath $pushed
        $copy = Import-ProtoPNet -LiteralPath $pushed
        Remove-Item -LiteralPath $pushed
        $null = $copy | Optimize-LastLayer -Dataset $train -Method Adam -Passes 5 -BatchSize 64 -Seed 1
        $run.AfterLastLayerAdam5 = ($copy | Test-ProtoPNet -Dataset $test).Accuracy
        $copy.Dispose()
        $null = $m | Optimize-LastLayer -Dataset $train
        $run.AfterLastLayer = ($m | Test-ProtoPNet -Dataset $test).Accuracy
        $m.Dispose()
        $run
    })
    $baseline = [ProtoPNet.Benchmarks.PlainClassifier]::Train('resnet18', $ImageSize, $train, $null,
        [ProtoPNet.Benchmarks.PlainClassifierOptions]@{ Epochs = 5; BatchSize = 64; LearningRate = 1e-4; HeadLearningRate = 3e-3 }, $null, $none)
    $result.PlainHeadTestAccuracy = $baseline.Accuracy($test, 100)
    $baseline.Dispose()
}
$result.LoadAverage = "$loadAtStart at start, $((Get-Content /proc/loadavg) -replace ' \S+ \S+$') at the end"

# Our figures beside the authors': median (min–max) over the repeats; ratios of medians, > 1 means we are faster.
# -Scale: PyTorch here ÷ PyTorch on the reference machine for this kind of figure; 'Authors here' is the authors' figure
# moved to this machine by it (speeds times it, times divided by it).
function Row([string] $figure, [int] $prototypes, [object[]] $runs, [string] $name, [double] $theirs, [switch] $Time, [int] $digits = 1, [double] $Scale = $inferenceScale) {
    $s = Get-FigureSpread $runs $name
    $ratio = { param($t) if ($t -gt 0) { [math]::Round($(if ($Time) { $t / $s.Median } else { $s.Median / $t }), 2) } else { $null } }
    $here = if ($pytorchRuns.Count -gt 0 -and $theirs -gt 0) { if ($Time) { $theirs / $Scale } else { $theirs * $Scale } } else { 0 }
    [pscustomobject]@{
        Figure = $figure; Prototypes = $prototypes
        Ours = [math]::Round($s.Median, $digits); Min = [math]::Round($s.Min, $digits); Max = [math]::Round($s.Max, $digits)
        Authors = $theirs
        Ratio = & $ratio $theirs
        'Authors here' = if ($here -gt 0) { [math]::Round($here, $digits + 1) } else { $null }
        'Ratio here' = & $ratio $here
    }
}
$rows = foreach ($runs in @($small, $large)) {
    if ($runs.Count -eq 0) { continue }
    $n = [int]$runs[0].Prototypes; $t = $authors[$n]; $count = [int]$runs[0].LastLayerImages
    Row 'joint training, img/s' $n $runs JointImagesPerSecond $t.Joint -Scale $trainScale
    Row 'joint training, bfloat16 backbone, img/s' $n $runs JointBFloat16ImagesPerSecond $t.Joint -Scale $trainScale
    Row 'warm training (5 epochs), img/s' $n $runs WarmImagesPerSecond $t.Warm
    Row 'inference, img/s' $n $runs InferenceImagesPerSecond $t.Inference
    Row 'inference, bfloat16 backbone, img/s' $n $runs InferenceBFloat16ImagesPerSecond $t.Inference
    Row 'push, s/1000 img' $n $runs PushSecondsPer1000 $t.Push -Time -digits 2
    Row 'push rendered, s/1000 img' $n $runs PushRenderedSecondsPer1000 $t.PushRendered -Time -digits 2
    Row 'push after warm-only training (kept features), s/1000 img' $n $runs PushKeptSecondsPer1000 $t.Push -Time -digits 3
    Row 'push after warm-only training, rendered, s/1000 img' $n $runs PushKeptRenderedSecondsPer1000 $t.PushRendered -Time -digits 3
    Row 'push -Search Shortlist, s/1000 img' $n $runs PushShortlistSecondsPer1000 $t.Push -Time -digits 2
    Row 'push -Search Shortlist rendered, s/1000 img' $n $runs PushShortlistRenderedSecondsPer1000 $t.PushRendered -Time -digits 2
    Row "last-layer stage ($count images), s" $n $runs LastLayerSeconds ([math]::Round(20 * $count / $t.LastLayerPass, 1)) -Time
    Row 'last-layer Newton iterations' $n $runs LastLayerIterations 0 -digits 0
    Row 'last layer converged (1 = yes)' $n $runs LastLayerConverged 0 -digits 0
}
$rows += Row 'plain resnet18 + linear head, train img/s' 0 $plainRuns PlainTrainImagesPerSecond $authors[100].PlainTrain -Scale $trainScale
$rows += Row 'plain resnet18 + linear head, inference img/s' 0 $plainRuns PlainInferenceImagesPerSecond $authors[100].PlainInference
$plainMedian = (Get-FigureSpread $plainRuns PlainTrainImagesPerSecond).Median
$result.JointStepOverPlainStep = [math]::Round($plainMedian / (Get-FigureSpread $small JointImagesPerSecond).Median, 3)
if ($Accuracy) {
    $a = $authors.Accuracy
    # Median (min–max) over the seeds; the authors' figure is one run of their code.
    function AccuracyRow([string] $figure, [double[]] $ours, $theirs) {
        $spread = Get-Spread $ours
        [pscustomobject]@{ Figure = $figure; Prototypes = 100; Ours = $spread.Median; Min = $spread.Min; Max = $spread.Max; Authors = $theirs; Ratio = $null }
    }
    $seeds = "seeds $($AccuracySeeds -join ', ')"
    $runs = @($result.AccuracyRuns)
    $rows += AccuracyRow "test accuracy before push (warm BatchNorm $WarmBatchNorm; $seeds)" ($runs | ForEach-Object BeforePush) $a.BeforePush
    $rows += AccuracyRow 'test accuracy after push' ($runs | ForEach-Object AfterPush) $a.AfterPush
    $rows += AccuracyRow 'test accuracy after last layer (exact)' ($runs | ForEach-Object AfterLastLayer) $a.AfterLastLayer
    $rows += AccuracyRow 'test accuracy after 5 Adam passes' ($runs | ForEach-Object AfterLastLayerAdam5) $a.AfterLastLayer
    $rows += AccuracyRow 'pushed prototypes: median nearest own-class test patch' ($runs | ForEach-Object { $_.PushedPrototypes.NearestOwnClassPatch }) $null
    $rows += AccuracyRow 'pushed prototypes: median nearest other-class test patch' ($runs | ForEach-Object { $_.PushedPrototypes.NearestOtherClassPatch }) $null
    $rows += AccuracyRow 'plain head, 5 epochs' @($result.PlainHeadTestAccuracy) $a.Plain
}
if ($pytorchRuns.Count -gt 0) {
    $rows += Row 'PyTorch plain resnet18, train img/s (yardstick)' 0 $pytorchRuns TrainImagesPerSecond $authors[100].PlainTrain -Scale $trainScale
    $rows += Row 'PyTorch plain resnet18, inference img/s (yardstick)' 0 $pytorchRuns InferenceImagesPerSecond $authors[100].PlainInference
}
$rows | Format-Table -AutoSize | Out-String -Width 220 | Write-Host
Write-Host ("ProtoPNet joint step over the plain step: {0}×; load average {1}" -f $result.JointStepOverPlainStep, $result.LoadAverage)
[pscustomobject]$result | ConvertTo-Json -Depth 5
