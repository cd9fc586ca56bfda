<#
.SYNOPSIS
    The offline ImageNet backbone against the same backbone from random initialization, same budget, on the bundled
    Fashion-MNIST sample upscaled to 64×64: test accuracy after training, push and the last-layer solve.
.DESCRIPTION
    Both models are resnet18-imagenet (the CNTK ResNet-18 variant, blocks [2,2,2,3]); the random one gets freshly
    initialized backbone weights of the same structure. Schedule: the authors' learning rates, -WarmEpochs warm and
    -Epochs joint epochs at batch 64, push onto the training images, last layer solved.
#>
param([int] $WarmEpochs = 2, [int] $Epochs = 3, [int] $ImageSize = 64, [int] $Seed = 1)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot '../ProtoPNet.psd1') -Force
$data = Join-Path $PSScriptRoot '../data/fashion-mnist-sample'
$all = Import-ProtoPNetDataset $data -Format Idx -Split Train
$test = Import-ProtoPNetDataset $data -Format Idx -Split Test
$train, $validation = $all | Split-ProtoPNetDataset -ValidationFraction 0.1 -Seed $Seed

$rows = foreach ($start in 'ImageNet', 'random') {
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $model = New-ProtoPNet -Backbone resnet18-imagenet -ClassName $all.ClassNames -ImageSize $ImageSize -Seed $Seed -Name $start
    if ($start -eq 'random') {
        $fresh = [ProtoPNet.Model.Backbones.ImageNetResNet18]::CreateUntrained()
        $model.Network.Backbone.load_state_dict($fresh.state_dict()) | Out-Null
        $fresh.Dispose()
    }
    $model | Start-ProtoPNetTraining -Dataset $train -ValidationDataset $validation -WarmEpochs $WarmEpochs -Epochs $Epochs -BatchSize 64 -Seed $Seed | Out-Null
    $trained = ($model | Test-ProtoPNet -Dataset $test).Accuracy
    $model | Invoke-PrototypePush -Dataset $train | Out-Null
    $pushed = ($model | Test-ProtoPNet -Dataset $test).Accuracy
    $model | Optimize-LastLayer -Dataset $train | Out-Null
    $final = ($model | Test-ProtoPNet -Dataset $test).Accuracy
    [pscustomobject]@{
        Backbone = "resnet18-imagenet ($start)"; AfterTraining = '{0:P2}' -f $trained; AfterPush = '{0:P2}' -f $pushed
        AfterLastLayer = '{0:P2}' -f $final; Seconds = [int]$clock.Elapsed.TotalSeconds
    }
    $model.Dispose()
}
$rows | Format-Table -AutoSize
