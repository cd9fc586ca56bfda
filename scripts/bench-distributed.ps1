<#
.SYNOPSIS
    Figures for docs/benchmarks.md (README "Past one machine"): Get-Explanation rows/s on one process vs shards on N loopback SSH sessions
    (Invoke-DistributedExplanation.ps1), session start-up, the time to ship a resnet18 model file to a session
    (Copy-Item -ToSession), and the module package's size. Median, min and max of -Repeats runs, with the load average.
.DESCRIPTION
    Needs an SSH server on 127.0.0.1 for this user: it starts its own (tests/pester/LoopbackSshd.ps1; root with
    apt-get installs Debian's openssh-server). Uses the bundled Fashion-MNIST sample's test split (1,000 images) or,
    with -Split Train, the training split (6,000), an untrained smallcnn ProtoPNet at 28 px, -Top 10.
.EXAMPLE
    dotnet pwsh ./scripts/bench-distributed.ps1 -Repeats 3 -Sessions 2
#>
param([int] $Repeats = 3, [int] $Sessions = 2, [ValidateSet('Test', 'Train')] [string] $Split = 'Test', [int] $Top = 10)
$ErrorActionPreference = 'Stop'
$repo = (Resolve-Path (Join-Path $PSScriptRoot '..')).Path
. (Join-Path $repo 'tests/pester/LoopbackSshd.ps1')
$manifest = Join-Path $repo 'ProtoPNet.psd1'
. (Join-Path $PSScriptRoot 'Import-Experiments.ps1')   # the module, TorchSharp, Get-LoadAverage
$work = Join-Path ([IO.Path]::GetTempPath()) "ptpn-bench-$([guid]::NewGuid().ToString('N'))"
New-Item -ItemType Directory $work | Out-Null
function Row([string] $what, [double[]] $values, [string] $unit, [string[]] $loads) {
    $s = $values | Sort-Object
    [pscustomobject]@{ Measure = $what; Median = [Math]::Round($s[[int][Math]::Floor(($s.Count - 1) / 2)], 2); Min = [Math]::Round($s[0], 2); Max = [Math]::Round($s[-1], 2); Unit = $unit; LoadAvg = $loads -join ' ' }
}
$server = Start-LoopbackSshd
if (-not $server) { throw 'No loopback SSH server.' }
$rows = @()
try {
    $sample = Join-Path $repo 'data/fashion-mnist-sample'
    $data = Import-ProtoPNetDataset $sample -Format Idx -Split $Split
    $n = $data.Count
    $model = New-ProtoPNet -Backbone smallcnn -ClassName $data.ClassNames -ImageSize 28 -Seed 1
    $modelFile = Join-Path $work 'smallcnn.ptpn'
    $model | Export-ProtoPNet $modelFile
    $p = Get-LoopbackSessionParameters

    $one = @(); $dist = @(); $open = @(); $l1 = @(); $l2 = @(); $l3 = @(); $rowCount = 0
    foreach ($r in 1..$Repeats) {
        $l1 += Get-LoadAverage
        [TorchSharp.torch]::set_num_threads([Environment]::ProcessorCount)
        $sw = [Diagnostics.Stopwatch]::StartNew()
        Get-Explanation -Dataset $data -Model $model -Top $Top | Export-Csv (Join-Path $work "one-$r.csv")
        $one += $sw.Elapsed.TotalSeconds
        $rowCount = $n * $Top

        $l2 += Get-LoadAverage
        $sw.Restart()
        $s = @(1..$Sessions | ForEach-Object { New-PSSession @p })
        $open += $sw.Elapsed.TotalSeconds
        $l3 += Get-LoadAverage
        $sw.Restart()
        $result = & (Join-Path $PSScriptRoot 'Invoke-DistributedExplanation.ps1') -Session $s -ModelPath $modelFile -Module $manifest -Top $Top `
            -DatasetParameters @{ Path = $sample; Format = 'Idx'; Split = $Split } -OutputDirectory (Join-Path $work "dist-$r")
        $dist += $sw.Elapsed.TotalSeconds
        if ($result.Images -ne $n) { throw "The distributed run explained $($result.Images) of $n images." }
        $s | Remove-PSSession
    }
    $rows += Row "Get-Explanation, 1 process ($([Environment]::ProcessorCount) threads), $n images" ($one | ForEach-Object { $rowCount / $_ }) 'rows/s' $l1
    $rows += Row "Invoke-DistributedExplanation, $Sessions loopback sessions, $n images (sessions open)" ($dist | ForEach-Object { $rowCount / $_ }) 'rows/s' $l3
    $rows += Row "  its overhead vs 1 process, per 1,000 images" (0..($Repeats - 1) | ForEach-Object { ($dist[$_] - $one[$_]) * 1000 / $n }) 's' $l3
    $rows += Row "New-PSSession x $Sessions (SSH, remote pwsh start)" $open 's' $l2

    # Shipping a resnet18 model file.
    $resnet = New-ProtoPNet -Backbone resnet18 -ClassCount 200 -ImageSize 224 -Seed 1
    $resnetFile = Join-Path $work 'resnet18.ptpn'
    $resnet | Export-ProtoPNet $resnetFile
    $mb = (Get-Item $resnetFile).Length / 1MB
    $s = New-PSSession @p
    $ship = @(); $l4 = @()
    foreach ($r in 1..$Repeats) {
        $l4 += Get-LoadAverage
        $target = Join-Path $work "shipped-$r.ptpn"
        $sw = [Diagnostics.Stopwatch]::StartNew()
        Copy-Item $resnetFile -Destination $target -ToSession $s
        $ship += $sw.Elapsed.TotalSeconds
    }
    $s | Remove-PSSession
    $rows += Row ("Copy-Item -ToSession of a resnet18 model file ({0:n1} MB)" -f $mb) $ship 's' $l4

    $package = Get-ChildItem (Join-Path $repo 'out/package') -Filter 'ProtoPNet.PS.*.nupkg' -ErrorAction Ignore | Select-Object -First 1
    if ($package) { $rows += [pscustomobject]@{ Measure = "Module package $($package.Name)"; Median = [Math]::Round($package.Length / 1MB, 1); Min = ''; Max = ''; Unit = 'MB'; LoadAvg = '' } }
} finally {
    Get-PSSession | Remove-PSSession -ErrorAction Ignore
    Stop-LoopbackSshd $server
    Remove-Item $work -Recurse -Force -ErrorAction Ignore
}
$rows | Format-Table -AutoSize | Out-String -Width 200
