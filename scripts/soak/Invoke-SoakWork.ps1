<#
.SYNOPSIS
    One unit of soak work, run by scripts/soak.ps1 in a child process: real module work of one kind, optionally with a
    thread that forces garbage collections (and finalizers) as fast as it can, to make object-lifetime bugs show.
.DESCRIPTION
    Kinds (each a few minutes of real work on the bundled Fashion-MNIST sample or a planted-part set):
      Demo              scripts/demo.ps1 at its real size (1 warm + 30 joint epochs, push, last layer, a second cycle).
      Resume            training with checkpoints, stopped after 2 epochs, then resumed with -Resume to 5.
      Checkpoints       many short joint epochs of a resnet18 ProtoPNet (its weights the size of a real job's) with
                        validation and a checkpoint after each: the epoch boundaries where the demo's host crash struck.
      EpochBoundaries   what training does between epochs, over and over, on a resnet18 ProtoPNet: the best epoch's weights
                        captured, the backbone's weights turned to and from channels-last (around each checkpoint), the
                        model written to a file. Before issue 28's fix this crashed the host within minutes under the
                        collector (a permute() temporary freed during contiguous(), in ChannelsLast.Relayout).
      Cycles            short training, then three push → last-layer cycles (Newton and Adam methods).
      Explain           Get-Explanation over thousands of images, then from ForEach-Object -Parallel on one model.
      Interpretability  Measure-ProtoPNetInterpretability (all metrics) on a planted-part model.
      ExportImport      Export-ProtoPNet / Import-ProtoPNet round trips, each compared with the original's logits.
    Exits 0 when the work completed and its checks held, 1 when a check failed or a PowerShell error stopped it; a host
    crash shows as the signal's exit code (134 SIGABRT, 139 SIGSEGV) and a dump when DOTNET_DbgEnableMiniDump is set.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateSet('Demo', 'Resume', 'Checkpoints', 'EpochBoundaries', 'Cycles', 'Explain', 'Interpretability', 'ExportImport')] [string] $Kind,
    [Parameter(Mandatory)] [string] $FixtureDirectory,
    [Parameter(Mandatory)] [string] $WorkDirectory,
    # Milliseconds between forced collections on a background thread; -1 = no collector thread, 0 = back to back.
    [int] $CollectorIntervalMs = -1,
    [int] $Seed = 1
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = Join-Path $PSScriptRoot '../..'

if ($CollectorIntervalMs -ge 0) {
    Add-Type -TypeDefinition @'
public static class SoakCollector {
    // A GC and the finalizers it queued, over and over: a TorchSharp object that nothing holds while native code uses it
    // is finalized within milliseconds instead of once in many minutes.
    public static void Start(int intervalMs) {
        var thread = new System.Threading.Thread(() => {
            while (true) {
                System.GC.Collect();
                System.GC.WaitForPendingFinalizers();
                if (intervalMs > 0) System.Threading.Thread.Sleep(intervalMs);
            }
        }) { IsBackground = true, Name = "SoakCollector" };
        thread.Start();
    }
}
'@
    [SoakCollector]::Start($CollectorIntervalMs)
}

Import-Module (Join-Path $root 'ProtoPNet.psd1') -Force
New-Item -ItemType Directory -Force $WorkDirectory | Out-Null
$fashion = Join-Path $root 'data/fashion-mnist-sample'

function Assert-That([bool] $condition, [string] $message) {
    if (-not $condition) { throw "Soak check failed: $message" }
}

switch ($Kind) {
    'Demo' {
        & (Join-Path $root 'scripts/demo.ps1') -OutputDirectory $WorkDirectory -Seed $Seed | Out-Null
        Assert-That (Test-Path (Join-Path $WorkDirectory 'explanations.csv')) 'the demo wrote no explanations.csv'
    }
    'Resume' {
        $all = Import-ProtoPNetDataset $fashion -Format Idx -Split Train
        $train, $validation = $all | Split-ProtoPNetDataset -ValidationFraction 0.1 -Seed $Seed
        $checkpoints = Join-Path $WorkDirectory 'checkpoints'
        $common = @{ Dataset = $train; ValidationDataset = $validation; WarmEpochs = 1; BatchSize = 32; BackboneLearningRate = 3e-3; Seed = $Seed; CheckpointDirectory = $checkpoints }
        $first = New-ProtoPNet -Backbone smallcnn -ClassName $all.ClassNames -ImageSize 28 -Seed $Seed
        $first | Start-ProtoPNetTraining @common -Epochs 1 | Out-Null
        $second = New-ProtoPNet -Backbone smallcnn -ClassName $all.ClassNames -ImageSize 28 -Seed $Seed
        $rows = @($second | Start-ProtoPNetTraining @common -Epochs 4 -Resume)
        Assert-That ($rows.Count -eq 3 -and $rows[0].Epoch -eq 3) "resume ran epochs $($rows.Epoch -join ',') instead of 3..5"
    }
    'Checkpoints' {
        $all = Import-ProtoPNetDataset (Join-Path $FixtureDirectory 'planted/train')
        $train, $validation = $all | Split-ProtoPNetDataset -ValidationFraction 0.25 -Seed $Seed
        $model = New-ProtoPNet -Backbone resnet18 -ClassName $all.ClassNames -ImageSize 32 -PrototypesPerClass 2 -Seed $Seed
        $rows = @($model | Start-ProtoPNetTraining -Dataset $train -ValidationDataset $validation -BackboneEpochs 0 -WarmEpochs 1 -Epochs 24 `
            -BatchSize 30 -Seed $Seed -CheckpointDirectory (Join-Path $WorkDirectory 'checkpoints') -WarningAction SilentlyContinue)
        Assert-That ($rows.Count -eq 25) "trained $($rows.Count) of 25 epochs"
    }
    'EpochBoundaries' {
        $model = New-ProtoPNet -Backbone resnet18 -ClassCount 10 -ImageSize 64 -Seed $Seed
        $network = $model.Network
        $weights = @($network.Backbone.parameters() | Where-Object { $_.dim() -eq 4 -and $_.shape[2] -gt 1 })
        $file = Join-Path $WorkDirectory 'boundary.ptpn'
        foreach ($round in 1..400) {
            $best = [ProtoPNet.Training.NetworkState]::Capture($network)
            foreach ($w in $weights) { [ProtoPNet.Model.Backbones.ChannelsLast]::Relayout($w, $true) }
            foreach ($w in $weights) { [ProtoPNet.Model.Backbones.ChannelsLast]::Relayout($w, $false) }
            if ($round % 20 -eq 0) { $model | Export-ProtoPNet -LiteralPath $file -Force }
            $best.Restore($network)
            $best.Dispose()
        }
    }
    'Cycles' {
        $all = Import-ProtoPNetDataset $fashion -Format Idx -Split Train
        $model = New-ProtoPNet -Backbone smallcnn -ClassName $all.ClassNames -ImageSize 28 -Seed $Seed
        $model | Start-ProtoPNetTraining -Dataset $all -WarmEpochs 1 -Epochs 2 -BatchSize 32 -BackboneLearningRate 3e-3 -Seed $Seed | Out-Null
        foreach ($cycle in 1..3) {
            $push = $model | Invoke-PrototypePush -Dataset $all -OutputDirectory (Join-Path $WorkDirectory "prototypes-$cycle")
            Assert-That ($push.Pushed -eq $model.PrototypeCount) "cycle $cycle pushed $($push.Pushed) of $($model.PrototypeCount)"
            $last = if ($cycle -eq 2) { $model | Optimize-LastLayer -Dataset $all -Method Adam -Passes 2 } else { $model | Optimize-LastLayer -Dataset $all }
            Assert-That ([double]::IsFinite($last.Objective)) "cycle $cycle last layer objective $($last.Objective)"
        }
        $model | Start-ProtoPNetTraining -Dataset $all -WarmEpochs 0 -Epochs 1 -BatchSize 32 -Seed $Seed | Out-Null
    }
    'Explain' {
        $model = Import-ProtoPNet (Join-Path $FixtureDirectory 'fashion.ptpn')
        $test = Import-ProtoPNetDataset $fashion -Format Idx -Split Test
        $train = Import-ProtoPNetDataset $fashion -Format Idx -Split Train
        $count = 0
        Get-Explanation -Dataset $train -Model $model -Top 3 | ForEach-Object { $count++ }
        Assert-That ($count -eq 3 * $train.Count) "explained $count rows of $($train.Count) images"
        $images = @(Get-ChildItem (Join-Path $FixtureDirectory 'images') -Filter *.png)
        $rows = $images | Get-Explanation -Model $model -Top 2 -OutputDirectory (Join-Path $WorkDirectory 'sheets')
        Assert-That (@($rows).Count -eq 2 * $images.Count) "explained $(@($rows).Count) rows of $($images.Count) files"
        # One model shared by parallel runspaces: the module's own locking, not the caller's, keeps this safe.
        $chunks = 0..3 | ForEach-Object { ,@($images | Select-Object -Skip ($_ * 50) -First 50 | ForEach-Object FullName) }
        $parallelRows = $chunks | ForEach-Object -ThrottleLimit 2 -Parallel {
            Import-Module $using:root/ProtoPNet.psd1
            $_ | Get-Explanation -Model $using:model -Top 1
        }
        Assert-That (@($parallelRows).Count -eq 200) "the parallel runs explained $(@($parallelRows).Count) of 200"
        $accuracy = ($model | Test-ProtoPNet -Dataset $test).Accuracy
        Assert-That ($accuracy -gt 0.5) "test accuracy $accuracy"
    }
    'Interpretability' {
        $model = Import-ProtoPNet (Join-Path $FixtureDirectory 'planted.ptpn')
        $test = Import-ProtoPNetDataset (Join-Path $FixtureDirectory 'planted/test')
        $result = $model | Measure-ProtoPNetInterpretability -Dataset $test -PartsPath (Join-Path $FixtureDirectory 'planted/parts.csv') `
            -PerPrototype -OutputDirectory (Join-Path $WorkDirectory 'interpretability')
        Assert-That ($null -ne $result) 'no interpretability result'
    }
    'ExportImport' {
        $model = Import-ProtoPNet (Join-Path $FixtureDirectory 'fashion.ptpn')
        $test = Import-ProtoPNetDataset $fashion -Format Idx -Split Test
        $expected = ($model | Test-ProtoPNet -Dataset $test).Accuracy
        foreach ($round in 1..20) {
            $path = Join-Path $WorkDirectory "round-$($round % 2).ptpn"
            $model | Export-ProtoPNet -LiteralPath $path -Force
            $model = Import-ProtoPNet -LiteralPath $path
            if ($round % 5 -eq 0) {
                $accuracy = ($model | Test-ProtoPNet -Dataset $test).Accuracy
                Assert-That ($accuracy -eq $expected) "round $round accuracy $accuracy instead of $expected"
            }
        }
    }
}
"$Kind completed"
