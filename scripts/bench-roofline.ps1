<#
.SYNOPSIS
    How far a push or an inference pass on this CPU is from the arithmetic limit, and which of issue 13's goals that
    limit allows in float32.
.DESCRIPTION
    Three tables. (1) The rates libtorch reaches here for the kernels a resnet18 ProtoPNet spends its time in (a large
    matrix product through libtorch's BLAS, a 3136×128·128×2000 product as BLAS GEMM and as oneDNN 1×1 convolution,
    resnet18's 3×3 convolutions at 64×64 input in NCHW and NHWC), float32 and bfloat16: median (min–max) GFLOP/s of
    -Rounds interleaved rounds. (2) The multiply-adds of one image's forward pass through the reference configuration
    (resnet18 at 64×64, Bottleneck add-on, 10×10 prototypes), layer by layer, counted by hand. (3) For each goal of
    issue 13 that a forward pass bounds — inference ≥ 1.1×, push unrendered ≥ 1.5× and rendered ≥ 3× the authors'
    published figures, joint training ≥ 1.3× (a training step does about three forwards' arithmetic) — the images/s
    it needs, the GFLOP/s that means, and what this process reaches: the whole forward inside an inference scope at
    push's batch of 75 (median of -Repetitions rounds, scripts/bench-forward.ps1's harness). A goal whose GFLOP/s lie
    above every float32 kernel rate cannot be met by a float32 forward on this CPU, however little else it does.
    Build the module first: dotnet pwsh ./build.ps1
.EXAMPLE
    dotnet pwsh -File scripts/bench-roofline.ps1
#>
[CmdletBinding()]
param(
    [ValidateRange(3, 100)] [int] $Rounds = 7,
    [ValidateRange(3, 100)] [int] $Repetitions = 9,
    [ValidateRange(1, 1024)] [int] $Threads = 2
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'Import-Experiments.ps1')
(New-ProtoPNet -Backbone smallcnn -ClassCount 2 -ImageSize 28).Dispose()   # loads TorchSharp and libtorch
[TorchSharp.torch]::set_num_threads($Threads)
Write-Host ("libtorch threads: {0}; load average at start: {1}; CPU: {2}" -f [TorchSharp.torch]::get_num_threads(),
    ((Get-LoadAverage -All) ?? 'n/a'), ((Get-Content /proc/cpuinfo -ErrorAction Ignore | Select-String '^model name' |
        Select-Object -First 1) -replace '^.*:\s*', ''))

# (1) kernel rates
$rates = [ProtoPNet.Benchmarks.KernelThroughput]::Measure($Rounds, $true)
$rates | ForEach-Object {
    [pscustomobject]@{
        Kernel = $_.Kernel; Shape = $_.Shape; DType = $_.DType
        'GFLOP/s' = '{0:N0} ({1:N0}–{2:N0})' -f $_.GigaFlopsPerSecond, $_.MinGigaFlopsPerSecond, $_.MaxGigaFlopsPerSecond
        'ms' = [math]::Round($_.MedianMilliseconds, 2)
    }
} | Format-Table -AutoSize | Out-String -Width 200 | Write-Host

# (2) the forward pass's arithmetic
$classes = 0..9 | ForEach-Object { "c$_" }
$model = New-ProtoPNet -Backbone resnet18 -ClassName $classes -PrototypesPerClass 10 -ImageSize 64 -Seed 1
try {
    $layers = @([ProtoPNet.Benchmarks.ForwardArithmetic]::ResNet18(64)) + @([ProtoPNet.Benchmarks.ForwardArithmetic]::Head($model))
    $gigaFlops = 2 * ($layers | Measure-Object MultiplyAdds -Sum).Sum / 1e9
    $layers | Group-Object { ($_.Layer -split '\.')[0] } | ForEach-Object {
        [pscustomobject]@{
            Layers = $_.Name; Output = '{0}×{0}' -f $_.Group[-1].OutputSize
            'Multiply-adds (M)' = [math]::Round(($_.Group | Measure-Object MultiplyAdds -Sum).Sum / 1e6, 2)
        }
    } | Format-Table -AutoSize | Out-String | Write-Host
    Write-Host ("One 64×64 image through the reference ProtoPNet: {0:N4} GFLOP (2 per multiply-add)." -f $gigaFlops)

    # (3) the goals against the rates
    $forward = [ProtoPNet.Benchmarks.ForwardBenchmark]::Run($model, 75, $Repetitions, 5)
} finally { $model.Dispose() }
$scopedImages = $forward.ScopedModelImagesPerSecond
$float32 = @($rates | Where-Object DType -eq 'Float32')
$bestFloat32 = ($float32 | Measure-Object GigaFlopsPerSecond -Maximum).Maximum
$bestFloat32Max = ($float32 | Measure-Object MaxGigaFlopsPerSecond -Maximum).Maximum
$bestBFloat16 = (@($rates | Where-Object DType -eq 'BFloat16') | Measure-Object GigaFlopsPerSecond -Maximum).Maximum
# The authors' published figures (their code on the reference CPU) and issue 13's goals; a training step ≈ 3 forwards.
$goals = @(
    @{ Goal = 'inference ≥ 1.1× 786 img/s'; Images = 786 * 1.1; Forwards = 1 }
    @{ Goal = 'push unrendered ≥ 1.5× (1.40 s/1000)'; Images = 1000 / (1.40 / 1.5); Forwards = 1 }
    @{ Goal = 'push rendered ≥ 3× (2.31 s/1000)'; Images = 1000 / (2.31 / 3); Forwards = 1 }
    @{ Goal = 'joint training ≥ 1.3× 214 img/s'; Images = 214 * 1.3; Forwards = 3 }
)
$goals | ForEach-Object {
    $needed = $_.Images * $_.Forwards * $gigaFlops
    [pscustomobject]@{
        Goal = $_.Goal
        'Needs img/s' = [int]$_.Images
        'Needs GFLOP/s' = [int]$needed
        '% of best fp32 kernel' = [int](100 * $needed / $bestFloat32)
        '% of best bf16 kernel' = [int](100 * $needed / $bestBFloat16)
        'Scoped forward img/s' = if ($_.Forwards -eq 1) { [int]$scopedImages } else { '' }
    }
} | Format-Table -AutoSize | Out-String -Width 200 | Write-Host
Write-Host ("The whole forward in an inference scope, batch 75: {0:N0} img/s = {1:N0} GFLOP/s, {2:N0} % of the best float32 kernel's median ({3:N0} GFLOP/s; its fastest round {4:N0}); bfloat16's best kernel {5:N0} GFLOP/s." -f
    $scopedImages, ($scopedImages * $gigaFlops), (100 * $scopedImages * $gigaFlops / $bestFloat32), $bestFloat32, $bestFloat32Max, $bestBFloat16)
# (4) the arithmetic floor of a training step's overhead over the plain step (backbone + linear head): backward ≈ twice
# the forward for the backbone and the add-on; the distances' backward reaches only each image's nearest patch, so they
# count once. A goal of "ProtoPNet step ≤ 1.1× plain" cannot be met where this floor is above 10 %.
@(
    @{ Backbone = 'smallcnn'; ImageSize = 28; PerClass = 10 }, @{ Backbone = 'smallcnn'; ImageSize = 28; PerClass = 200 }
    @{ Backbone = 'resnet18'; ImageSize = 64; PerClass = 10 }, @{ Backbone = 'resnet18'; ImageSize = 64; PerClass = 200 }
) | ForEach-Object {
    $m = New-ProtoPNet -Backbone $_.Backbone -ClassName $classes -PrototypesPerClass $_.PerClass -ImageSize $_.ImageSize -Seed 1
    try {
        $backbone = ([ProtoPNet.Benchmarks.ForwardArithmetic]::Backbone($_.Backbone, $_.ImageSize) | Measure-Object MultiplyAdds -Sum).Sum
        $head = @([ProtoPNet.Benchmarks.ForwardArithmetic]::Head($m))
        $addOn = ($head | Where-Object Layer -like 'add-on*' | Measure-Object MultiplyAdds -Sum).Sum
        $distances = ($head | Where-Object Layer -eq 'prototype distances').MultiplyAdds
        [pscustomobject]@{
            Configuration = '{0} {1}², {2} prototypes' -f $_.Backbone, $_.ImageSize, $m.PrototypeCount
            'Backbone M/img' = [math]::Round($backbone / 1e6, 2)
            'Add-on M/img' = [math]::Round($addOn / 1e6, 2)
            'Distances M/img' = [math]::Round($distances / 1e6, 2)
            'Step floor over plain %' = [math]::Round(100 * (3 * $addOn + $distances) / (3 * $backbone), 1)
        }
    } finally { $m.Dispose() }
} | Format-Table -AutoSize | Out-String -Width 200 | Write-Host
Write-Host ("load average at end: {0}" -f ((Get-LoadAverage -All) ?? 'n/a'))
