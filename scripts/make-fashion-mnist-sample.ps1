<#
.SYNOPSIS
    Regenerates data/fashion-mnist-sample: the first 600 training and first 100 test images of each
    Fashion-MNIST class, in file order, as gzipped IDX files.
.DESCRIPTION
    Reads the original Fashion-MNIST IDX files (Debian's dataset-fashion-mnist package installs them in
    /usr/share/datasets/fashion-mnist; any download of the four original files works), keeps, for each class,
    the first -TrainPerClass items of the training file and the first -TestPerClass items of the test file in the
    order they appear, and writes them, in that file order, to -Destination together with the indices taken.
    Needs only PowerShell 7 (no module). The output is byte-for-byte reproducible.
.EXAMPLE
    sudo apt-get install dataset-fashion-mnist; pwsh scripts/make-fashion-mnist-sample.ps1
#>
[CmdletBinding()]
param(
    [string] $Source = '/usr/share/datasets/fashion-mnist',
    [string] $Destination = (Join-Path $PSScriptRoot '../data/fashion-mnist-sample'),
    [int] $TrainPerClass = 600,
    [int] $TestPerClass = 100
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function Read-Idx([string] $path) {
    $file = [IO.File]::OpenRead($path)
    try {
        $stream = if ($path.EndsWith('.gz')) { [IO.Compression.GZipStream]::new($file, [IO.Compression.CompressionMode]::Decompress) } else { $file }
        $memory = [IO.MemoryStream]::new()
        $stream.CopyTo($memory)
        $bytes = $memory.ToArray()
    } finally { $file.Dispose() }
    $rank = $bytes[3]
    $dims = foreach ($d in 0..($rank - 1)) { $at = 4 + 4 * $d; ([int]$bytes[$at] -shl 24) -bor ([int]$bytes[$at + 1] -shl 16) -bor ([int]$bytes[$at + 2] -shl 8) -bor $bytes[$at + 3] }
    [pscustomobject]@{ Header = $bytes[0..(3 + 4 * $rank)]; Dims = @($dims); Data = $bytes; Offset = 4 + 4 * $rank }
}

function Write-Idx([string] $path, [byte[]] $magic, [int[]] $dims, [byte[]] $data) {
    $memory = [IO.MemoryStream]::new()
    $memory.Write($magic, 0, 4)
    foreach ($d in $dims) {
        $memory.Write([byte[]](@((($d -shr 24) -band 255), (($d -shr 16) -band 255), (($d -shr 8) -band 255), ($d -band 255))), 0, 4)
    }
    $memory.Write($data, 0, $data.Length)
    $out = [IO.File]::Create($path)
    try {
        $gzip = [IO.Compression.GZipStream]::new($out, [IO.Compression.CompressionLevel]::SmallestSize)
        $gzip.Write($memory.ToArray(), 0, [int]$memory.Length)
        $gzip.Dispose()
    } finally { $out.Dispose() }
}

function New-Subset([string] $prefix, [int] $perClass) {
    $images = Read-Idx (Join-Path $Source "$prefix-images-idx3-ubyte.gz")
    $labels = Read-Idx (Join-Path $Source "$prefix-labels-idx1-ubyte.gz")
    $count = $labels.Dims[0]; $pixels = $images.Dims[1] * $images.Dims[2]
    $taken = [int[]]::new(10)
    $indices = [Collections.Generic.List[int]]::new()
    for ($i = 0; $i -lt $count -and $indices.Count -lt 10 * $perClass; $i++) {
        $label = $labels.Data[$labels.Offset + $i]
        if ($taken[$label] -lt $perClass) { $taken[$label]++; $indices.Add($i) }
    }
    $imageData = [byte[]]::new($indices.Count * $pixels)
    $labelData = [byte[]]::new($indices.Count)
    for ($k = 0; $k -lt $indices.Count; $k++) {
        [Array]::Copy($images.Data, $images.Offset + $indices[$k] * $pixels, $imageData, $k * $pixels, $pixels)
        $labelData[$k] = $labels.Data[$labels.Offset + $indices[$k]]
    }
    Write-Idx (Join-Path $Destination "$prefix-images-idx3-ubyte.gz") ([byte[]](0, 0, 8, 3)) @($indices.Count, $images.Dims[1], $images.Dims[2]) $imageData
    Write-Idx (Join-Path $Destination "$prefix-labels-idx1-ubyte.gz") ([byte[]](0, 0, 8, 1)) @($indices.Count) $labelData
    Set-Content -LiteralPath (Join-Path $Destination "$prefix-indices.txt") -Value ($indices -join "`n") -NoNewline
    Write-Host ("{0}: {1} images taken from the first {2} of {3} (per class: {4})" -f $prefix, $indices.Count, ($indices[-1] + 1), $count, ($taken -join ', '))
}

New-Item -ItemType Directory -Force $Destination | Out-Null
New-Subset 'train' $TrainPerClass
New-Subset 't10k' $TestPerClass
