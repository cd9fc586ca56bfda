<#
.SYNOPSIS
    A soak test of resident memory: many passes of Test-ProtoPNet (or Get-Explanation) over the same images in one
    process, with the resident set, page faults and system time of every pass; prints a table and a verdict.
.DESCRIPTION
    Memory must stay flat over thousands of images. This runs -Passes passes of -Count in-memory images each through
    one model (untrained: memory does not depend on what the weights learned) and reads /proc/self after every pass:
    VmRSS, minor page faults and system CPU time. The verdict compares the resident set at the end of the middle pass
    with the end of the last one: the growth of the second half, per 1,000 images. A first-passes rise followed by a
    plateau is the C allocator reaching its working size (docs/performance.md, "Native settings"); growth that goes
    on pass after pass is a leak or unbounded fragmentation.
    Linux only (/proc). Run it alone after './build.ps1' from the repository root:
        dotnet pwsh -File scripts/bench-memory.ps1 [-Workload Test|Explain] [-Passes 20] [-Count 2000]
#>
[CmdletBinding()]
param(
    [ValidateSet('Test', 'Explain')] [string] $Workload = 'Test',
    [ValidateRange(2, 1000)] [int] $Passes = 20,
    [ValidateRange(1, 1000000)] [int] $Count = 2000,
    [string] $Backbone = 'resnet18',
    [int] $ImageSize = 64,
    [int] $PrototypesPerClass = 10,
    [int] $BatchSize = 100,
    [int] $Threads = 2
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'Import-Experiments.ps1')
if (-not (Test-Path /proc/self/stat)) { throw 'bench-memory reads /proc/self: Linux only.' }

# Resident set (MB), minor faults and system seconds of this process. /proc/self/stat's fields after the command
# name (which may hold spaces, so split after its closing parenthesis): minflt is field 10, stime field 15 (1-based).
function Get-ProcessMemory {
    $rss = [double]((Select-String -LiteralPath /proc/self/status -Pattern '^VmRSS:\s+(\d+)').Matches[0].Groups[1].Value) / 1KB
    $stat = (Get-Content -LiteralPath /proc/self/stat -Raw)
    $fields = $stat.Substring($stat.LastIndexOf(')') + 2) -split ' '
    $ticks = 100   # USER_HZ on Linux
    [pscustomobject]@{ RssMB = $rss; MinorFaults = [long]$fields[7]; SystemSeconds = [double]$fields[12] / $ticks }
}

$model = New-ProtoPNet -Backbone $Backbone -ClassCount 10 -PrototypesPerClass $PrototypesPerClass -ImageSize $ImageSize -Seed 1
[TorchSharp.torch]::set_num_threads($Threads)
$null = [TorchSharp.torch]::manual_seed(1)
$images = [TorchSharp.torch]::rand([long[]]@($Count, 3, $ImageSize, $ImageSize))
$data = [ProtoPNet.Data.TensorDataset]::new('random', $images, [int[]](0..($Count - 1) | ForEach-Object { $_ % 10 }), [string[]]$model.ClassNames)
$indices = [int[]](0..($Count - 1))

$loadAtStart = Get-LoadAverage -All
$start = Get-ProcessMemory
$rows = [Collections.Generic.List[object]]::new()
$previous = $start
for ($pass = 1; $pass -le $Passes; $pass++) {
    $clock = [Diagnostics.Stopwatch]::StartNew()
    if ($Workload -eq 'Test') { $null = $model | Test-ProtoPNet -Dataset $data -BatchSize $BatchSize }
    else { Get-Explanation -Model $model -Dataset $data -Index $indices -Top 3 | Out-Null }
    $seconds = $clock.Elapsed.TotalSeconds
    [GC]::Collect(); [GC]::WaitForPendingFinalizers()
    $now = Get-ProcessMemory
    $rows.Add([pscustomobject]@{
        Pass          = $pass
        Images        = $pass * $Count
        Seconds       = [math]::Round($seconds, 2)
        RssMB         = [math]::Round($now.RssMB, 0)
        GrowthMB      = [math]::Round($now.RssMB - $previous.RssMB, 1)
        MinorFaults   = $now.MinorFaults - $previous.MinorFaults
        SystemSeconds = [math]::Round($now.SystemSeconds - $previous.SystemSeconds, 2)
        ManagedMB     = [math]::Round([GC]::GetTotalMemory($false) / 1MB, 1)
    })
    $previous = $now
    Write-Host ("pass {0}/{1}: {2:N1} s, RSS {3:N0} MB" -f $pass, $Passes, $seconds, $now.RssMB)
}
$model.Dispose(); $images.Dispose()

$rows | Format-Table -AutoSize | Out-Host
$middle = $rows[[int][math]::Floor($Passes / 2) - 1]
$last = $rows[-1]
$laterImages = $last.Images - $middle.Images
$perThousand = ($last.RssMB - $middle.RssMB) / $laterImages * 1000
$faults = Get-Spread ([double[]]@($rows | Select-Object -Skip ($Passes / 2) | ForEach-Object MinorFaults))
$summary = [ordered]@{
    Workload             = $Workload
    Backbone             = $Backbone
    ImageSize            = $ImageSize
    Prototypes           = 10 * $PrototypesPerClass
    ImagesPerPass        = $Count
    Passes               = $Passes
    RssStartMB           = [math]::Round($start.RssMB, 0)
    RssAfterFirstPassMB  = $rows[0].RssMB
    RssMiddleMB          = $middle.RssMB
    RssEndMB             = $last.RssMB
    PeakMB               = ($rows | Measure-Object RssMB -Maximum).Maximum
    SecondHalfMBPer1000  = [math]::Round($perThousand, 2)
    SecondHalfFaultsPerPass = "median $($faults.Median), min $($faults.Min), max $($faults.Max)"
    PassSeconds          = (Get-Spread ([double[]]@($rows | ForEach-Object Seconds))) | ForEach-Object { "median $($_.Median), min $($_.Min), max $($_.Max)" }
    LoadAverage          = "$loadAtStart at start, $(Get-LoadAverage -All) at the end"
}
[pscustomobject]$summary | Format-List | Out-Host
$summary | ConvertTo-Json -Compress
