# Dot-source from a script: imports the module and loads the experiment assembly (bin/experiments/ProtoPNet.Benchmarks.dll,
# synthetic data sets and benchmark harnesses) with the dependencies it shares with the module. Build first: ./build.ps1
Import-Module (Join-Path $PSScriptRoot '../ProtoPNet.psd1')
$bin = Join-Path $PSScriptRoot '../bin'
Add-Type -Path (Join-Path $bin 'TorchSharp.dll'), (Join-Path $bin 'SixLabors.ImageSharp.dll'), (Join-Path $bin 'ProtoPNet.Core.dll'), (Join-Path $bin 'experiments/ProtoPNet.Benchmarks.dll')

# The load average (Linux /proc/loadavg): the 1-minute figure, or with -All the 1-, 5- and 15-minute figures joined by
# spaces; $null where there is none. The benchmarks print it beside their timings: other work on a shared machine skews them.
function Get-LoadAverage([switch] $All) {
    $line = Get-Content /proc/loadavg -TotalCount 1 -ErrorAction Ignore
    if (-not $line) { return $null }
    $fields = $line -split ' '
    if ($All) { $fields[0..2] -join ' ' } else { $fields[0] }
}

# Median, min and max of repeated measurements (the benchmarks report every figure this way). With an even count the
# median is the mean of the middle two.
function Get-Spread([double[]] $Values) {
    $sorted = [double[]]($Values | Sort-Object); $n = $sorted.Count
    $median = if ($n % 2) { $sorted[($n - 1) / 2] } else { ($sorted[$n / 2 - 1] + $sorted[$n / 2]) / 2 }
    [pscustomobject]@{ Median = $median; Min = $sorted[0]; Max = $sorted[-1] }
}
