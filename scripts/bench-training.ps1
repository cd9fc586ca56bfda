<#
.SYNOPSIS
    Times the three training stages of ProtoPNet.PS in the reference configuration and prints one JSON object.
.DESCRIPTION
    The configuration of the authors'-code reference figures (Fashion-MNIST at 64×64, grey copied to 3 channels,
    ImageNet normalization, 10 classes × 10 prototypes of 128×1×1, Bottleneck add-on, log similarity, batch 64 for
    training, 100 for test, 75 for push, 2 torch threads), on a subset to keep the run short.
    The backbone is -Backbone (resnet18 in the reference; smallcnn where resnet18 is not available).
    Figures: joint / warm / inference images/s, push seconds per 1,000 images without and with rendering, last-layer
    full-solve seconds (similarity vectors + proximal Newton), the Newton solve alone on 60,000 × 100 similarity vectors, and the
    same backbone trained and run as a plain classifier (average pool + linear head) for the prototype overhead.
    -Accuracy also runs the accuracy schedule (2 warm + 3 joint epochs, push, last layer) and the plain-head baseline.
.EXAMPLE
    dotnet pwsh -File scripts/bench-training.ps1 -SubsetFile ./fashion-mnist-train-subset-12000.txt -TrainCount 2000
#>
[CmdletBinding()]
param(
    [string] $Backbone = 'resnet18',
    [string] $DataDirectory = '/usr/share/datasets/fashion-mnist',
    # 0-based indices of the training subset, one per line (the reference uses 12,000); default: the first images.
    [string] $SubsetFile,
    [int] $TrainCount = 2000,
    [int] $TestCount = 2000,
    [int] $ImageSize = 64,
    [int] $PrototypesPerClass = 10,
    [int] $Threads = 2,
    [switch] $Accuracy
)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot '../ProtoPNet.psd1') -Force
$classes = 'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'

if ($Backbone -notin [ProtoPNet.Model.Backbones.BackboneFactory]::Names) {
    Write-Warning "Backbone '$Backbone' is not in this build ($([ProtoPNet.Model.Backbones.BackboneFactory]::Names -join ', ')); using smallcnn. Compare ratios with care: smallcnn at 64×64 costs about twice resnet18's FLOPs."
    $Backbone = 'smallcnn'
}
$null = New-ProtoPNet -Backbone $Backbone -ClassCount 2 -ImageSize $ImageSize   # loads TorchSharp
[TorchSharp.torch]::set_num_threads($Threads)
$torch = [TorchSharp.torch]

# A minimal IDX reader: magic, dimensions, then the raw bytes.
function Read-Idx([string] $path) {
    $file = [IO.File]::OpenRead($path)
    try {
        $gzip = [IO.Compression.GZipStream]::new($file, [IO.Compression.CompressionMode]::Decompress)
        $buffer = [IO.MemoryStream]::new(); $gzip.CopyTo($buffer); $bytes = $buffer.ToArray()
    } finally { $file.Dispose() }
    $dims = $bytes[3]
    $shape = foreach ($d in 0..($dims - 1)) { [int]($bytes[4 + 4 * $d]) -shl 24 -bor [int]($bytes[5 + 4 * $d]) -shl 16 -bor [int]($bytes[6 + 4 * $d]) -shl 8 -bor [int]$bytes[7 + 4 * $d] }
    $offset = 4 + 4 * $dims
    $data = [byte[]]::new($bytes.Length - $offset)
    [Array]::Copy($bytes, $offset, $data, 0, $data.Length)
    [pscustomobject]@{ Shape = [long[]]@($shape); Data = $data }
}

function New-FashionDataset([string] $name, [string] $prefix, [int[]] $indices) {
    $images = Read-Idx (Join-Path $DataDirectory "$prefix-images-idx3-ubyte.gz")
    $labels = Read-Idx (Join-Path $DataDirectory "$prefix-labels-idx1-ubyte.gz")
    $all = $torch::tensor($images.Data).reshape([long[]]@($images.Shape[0], 1, 28, 28))
    $pick = $torch::tensor([long[]]$indices)
    $grey = $all.index_select(0, $pick).to([TorchSharp.torch+ScalarType]::Float32).mul([TorchSharp.Scalar](1.0 / 255))
    $resized = [TorchSharp.torch+nn+functional]::interpolate($grey, [long[]]@($ImageSize, $ImageSize), $null,
        [TorchSharp.torch+InterpolationMode]::Bilinear, $false, $false, $false)
    $rgb = $resized.repeat([long[]]@(1, 3, 1, 1)).contiguous()
    $y = [int[]]@(foreach ($i in $indices) { $labels.Data[$i] })
    [ProtoPNet.Data.TensorDataset]::new($name, $rgb, $y, [string[]]$classes)
}

$trainIndices = if ($SubsetFile) { [int[]]@(Get-Content $SubsetFile | Where-Object { $_ -match '\d' } | ForEach-Object { [int]$_ }) } else { [int[]]@(0..59999) }
$train = New-FashionDataset 'fashion-train' 'train' ([int[]]@($trainIndices | Select-Object -First $TrainCount))
$test = New-FashionDataset 'fashion-test' 't10k' ([int[]]@(0..($TestCount - 1)))

function New-Model { New-ProtoPNet -Backbone $Backbone -ClassName $classes -PrototypesPerClass $PrototypesPerClass -ImageSize $ImageSize -Seed 1 }
function Measure-Seconds([scriptblock] $work) { $sw = [Diagnostics.Stopwatch]::StartNew(); $null = & $work; $sw.Elapsed.TotalSeconds }

$result = [ordered]@{ Backbone = $Backbone; ImageSize = $ImageSize; Prototypes = 10 * $PrototypesPerClass; TrainImages = $train.Count; TestImages = $test.Count; Threads = $Threads }

# Warm: the frozen backbone's output is computed once, then every warm epoch reuses it.
$model = New-Model
$warmWall = Measure-Seconds { $script:warm = @($model | Start-ProtoPNetTraining -Dataset $train -WarmEpochs 2 -Epochs 0 -BatchSize 64 -Seed 1) }
$warmEpochs = ($warm | Measure-Object Seconds -Sum).Sum
$result.WarmCachedImagesPerSecond = [math]::Round($warm[-1].ImagesPerSecond, 1)
$result.WarmCacheBuildSeconds = [math]::Round($warmWall - $warmEpochs, 2)
# Amortized over the authors' 5 warm epochs: one cache build plus five cached epochs.
$result.WarmImagesPerSecond5Epochs = [math]::Round(5 * $train.Count / ($result.WarmCacheBuildSeconds + 5 * $train.Count / $warm[-1].ImagesPerSecond), 1)
$uncached = @(New-Model | Start-ProtoPNetTraining -Dataset $train -WarmEpochs 1 -Epochs 0 -BatchSize 64 -Seed 1 -NoFeatureCache)
$result.WarmUncachedImagesPerSecond = [math]::Round($uncached[-1].ImagesPerSecond, 1)

# Joint.
$joint = @($model | Start-ProtoPNetTraining -Dataset $train -WarmEpochs 0 -Epochs 1 -BatchSize 64 -Seed 1)
$result.JointImagesPerSecond = [math]::Round($joint[-1].ImagesPerSecond, 1)

# Inference (all of the model's outputs, as Test-ProtoPNet computes them).
$result.InferenceImagesPerSecond = [math]::Round(($model | Test-ProtoPNet -Dataset $test -BatchSize 100).ImagesPerSecond, 1)

# Push, without and with rendering (a fresh copy of the trained state each time: push is idempotent anyway).
$plain = $model | Invoke-PrototypePush -Dataset $train -BatchSize 75
$result.PushSecondsPer1000 = [math]::Round($plain.SecondsPer1000Images, 3)
$renderDirectory = Join-Path ([IO.Path]::GetTempPath()) ("ptpn-bench-" + [guid]::NewGuid().ToString('N'))
$rendered = $model | Invoke-PrototypePush -Dataset $train -BatchSize 75 -OutputDirectory $renderDirectory
$result.PushRenderedSecondsPer1000 = [math]::Round($rendered.SecondsPer1000Images, 3)
Remove-Item -Recurse -Force $renderDirectory

# Last layer: similarity vectors once, then the exact solve.
$last = $model | Optimize-LastLayer -Dataset $train
$result.LastLayerSeconds = [math]::Round($last.Seconds, 2)
$result.LastLayerSimilaritySeconds = [math]::Round($last.SimilaritySeconds, 2)
$result.LastLayerSolveSeconds = [math]::Round($last.SolveSeconds, 2)
$result.LastLayerIterations = $last.Iterations
$result.LastLayerOptimality = $last.Optimality
$result.LastLayerConverged = $last.Converged
$result.LastLayerObjective = $last.Objective
$result.LastLayerTrainAccuracy = $last.Accuracy
# The authors' variant on the same vectors (20 Adam passes at 1e-4, batch 64), from the same starting weights.
$adamModel = New-Model
$null = $adamModel.Network.load_state_dict($model.Network.state_dict(), $true, $null)
$adamModel.Network.SetLastLayerIncorrectConnection(-0.5)
$fistaModel = New-Model
$null = $fistaModel.Network.load_state_dict($model.Network.state_dict(), $true, $null)
$fistaModel.Network.SetLastLayerIncorrectConnection(-0.5)
$adam = $adamModel | Optimize-LastLayer -Dataset $train -Method Adam -Passes 20 -BatchSize 64 -Seed 1
$result.LastLayerAdam20Seconds = [math]::Round($adam.Seconds, 2)
$result.LastLayerAdam20Objective = $adam.Objective
$result.LastLayerAdam20TrainAccuracy = $adam.Accuracy
$fista500 = $fistaModel | Optimize-LastLayer -Dataset $train -Method Fista -MaxIterations 500 -WarningAction SilentlyContinue
$result.LastLayerFista500Seconds = [math]::Round($fista500.Seconds, 2)
$result.LastLayerFista500Objective = $fista500.Objective

# The solve alone at the issue's size: 60,000 × 100 similarity vectors (this model's vectors, tiled), proximal Newton (the default).
$vectors = [ProtoPNet.LastLayer.LastLayerOptimizer]::SimilarityVectors($model, $train, 100, $null, [Threading.CancellationToken]::None)
$times = [math]::Ceiling(60000 / $train.Count)
$s = $vectors.Item1.repeat([long[]]@($times, 1)).narrow(0, 0, 60000)   # (a pipeline would enumerate the tensor's rows)
$y = $vectors.Item2.repeat([long[]]@($times)).narrow(0, 0, 60000)
$mask = $model.Network.PrototypeClassIdentity.transpose(0, 1).mul([TorchSharp.Scalar](-1.0)).add([TorchSharp.Scalar]1.0).to([TorchSharp.torch+ScalarType]::Float64)
$init = $model.Network.LastLayer.weight.detach().clone()
$sw = [Diagnostics.Stopwatch]::StartNew()
$solve = [ProtoPNet.LastLayer.LastLayerSolver]::Newton($s, $y, $mask, $init, 1e-4, 1e-4, 200, $null, [Threading.CancellationToken]::None)
$result.LastLayerSolve60000Optimality = $solve.Optimality
$result.LastLayerSolve60000Seconds = [math]::Round($sw.Elapsed.TotalSeconds, 2)
$result.LastLayerSolve60000Iterations = $solve.Iterations

# The same backbone as a plain classifier (average pool + linear head): train step and inference speed.
$backboneModule = [ProtoPNet.Model.Backbones.BackboneFactory]::Create($Backbone)
$plainNet = [TorchSharp.torch+nn]::Sequential([TorchSharp.torch+nn+Module[Torchsharp.torch+Tensor, TorchSharp.torch+Tensor][]]@(
    $backboneModule, [TorchSharp.torch+nn]::AdaptiveAvgPool2d([long[]]@(1, 1)), [TorchSharp.torch+nn]::Flatten(1, -1),
    [TorchSharp.torch+nn]::Linear($backboneModule.OutChannels, 10, $true, $null, $null)))
$optimizer = [TorchSharp.torch+optim]::Adam($plainNet.parameters(), 1e-4, 0.9, 0.999, 1e-8, 0, $false, $false)
$reader = [ProtoPNet.Data.BatchReader]::new($train, $ImageSize, [ProtoPNet.Model.ImageNormalization]::ImageNet)
$batches = @($reader.Read([int[]]@(0..([math]::Min($train.Count, 640) - 1)), 64, $null, [Threading.CancellationToken]::None))
$plainNet.train()
$sw = [Diagnostics.Stopwatch]::StartNew()
foreach ($b in $batches) {
    $scope = $torch::NewDisposeScope()
    $loss = [TorchSharp.torch+nn+functional]::cross_entropy($plainNet.forward($b.Images), $b.Labels, $null, -100, [TorchSharp.torch+nn+Reduction]::Mean, 0.0)
    $optimizer.zero_grad(); $loss.backward(); $null = $optimizer.step()
    $scope.Dispose()
}
$result.PlainTrainImagesPerSecond = [math]::Round(64 * $batches.Count / $sw.Elapsed.TotalSeconds, 1)
$plainNet.eval()
$noGrad = $torch::no_grad()
$sw = [Diagnostics.Stopwatch]::StartNew()
foreach ($b in $batches) { $scope = $torch::NewDisposeScope(); $null = $plainNet.forward($b.Images); $scope.Dispose() }
$noGrad.Dispose()
$result.PlainInferenceImagesPerSecond = [math]::Round(64 * $batches.Count / $sw.Elapsed.TotalSeconds, 1)

if ($Accuracy) {
    $m = New-Model
    $null = $m | Start-ProtoPNetTraining -Dataset $train -WarmEpochs 2 -Epochs 3 -BatchSize 64 -Seed 1
    $result.TestAccuracyBeforePush = ($m | Test-ProtoPNet -Dataset $test).Accuracy
    $null = $m | Invoke-PrototypePush -Dataset $train
    $result.TestAccuracyAfterPush = ($m | Test-ProtoPNet -Dataset $test).Accuracy
    $null = $m | Optimize-LastLayer -Dataset $train
    $result.TestAccuracyAfterLastLayer = ($m | Test-ProtoPNet -Dataset $test).Accuracy
}

[pscustomobject]$result | ConvertTo-Json
