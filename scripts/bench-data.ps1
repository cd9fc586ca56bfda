<#
.SYNOPSIS
    Measures the data pipeline and prints a table: JPEG decode+crop+resize+normalize throughput on one core,
    the in-memory IDX path on the full Fashion-MNIST training set, and the memory of CUB-sized metadata.
.DESCRIPTION
    1. Generates -JpegCount photo-like 500×375 JPEGs (quality 75, smooth shapes plus sensor-like noise) in a CUB-style
       folder with a bounding box per image, imports it with -CropToBoundingBox and no decode cache, and reads every image
       through BatchReader at 224×224 with ImageNet normalization: one decoding thread, ImageSharp and libtorch limited
       to one thread each.
    2. Opens the 60,000-image Fashion-MNIST training IDX files (-FashionMnist; Debian's dataset-fashion-mnist installs them
       in /usr/share/datasets/fashion-mnist) and times a full pass of normalized 28×28 batches; falls back to the
       bundled sample when the full files are not there.
    3. Generates CUB-200-2011 metadata for 11,788 images (200 classes, boxes, 15 part locations each) and 11,788 tiny JPEGs,
       then measures, in a fresh process each, the time and memory of Import-ProtoPNetDataset without decoding any pixels:
       metadata only (-NoProbe) and with the header check.
    Build the module first (./build.ps1). Runs in about a minute.
#>
[CmdletBinding()]
param(
    [int] $JpegCount = 200,
    [string] $FashionMnist = '/usr/share/datasets/fashion-mnist',
    [string] $WorkFolder = (Join-Path ([IO.Path]::GetTempPath()) "protopnet-bench-$PID")
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$repo = Resolve-Path (Join-Path $PSScriptRoot '..')
$manifest = Join-Path $repo 'ProtoPNet.psd1'
Import-Module $manifest -Force
Add-Type -Path (Join-Path $repo 'bin/TorchSharp.dll')   # the module's own copy: set_num_threads below
$imageSharp = [ProtoPNet.Data.ImageDecoder]::Configuration.GetType().Assembly.Location

Add-Type -ReferencedAssemblies $imageSharp -IgnoreWarnings -WarningAction SilentlyContinue -TypeDefinition @'
using System;
using System.IO;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;

public static class BenchImages
{
    /// <summary>Photo-like content: a few soft blobs on a gradient, plus Gaussian-ish noise, so JPEG sizes resemble photos.</summary>
    public static long WriteJpeg(string path, int width, int height, int seed, int quality)
    {
        var random = new Random(seed);
        using var image = new Image<Rgb24>(width, height);
        var blobs = new (double X, double Y, double R, int C)[6];
        for (int i = 0; i < blobs.Length; i++)
            blobs[i] = (random.NextDouble() * width, random.NextDouble() * height, 30 + random.NextDouble() * 120, random.Next(3));
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
        {
            double r = 90 + 80.0 * x / width, g = 110 + 60.0 * y / height, b = 140;
            foreach (var blob in blobs)
            {
                double d = ((x - blob.X) * (x - blob.X) + (y - blob.Y) * (y - blob.Y)) / (blob.R * blob.R);
                double w = 90 * Math.Exp(-d);
                if (blob.C == 0) r += w; else if (blob.C == 1) g += w; else b -= w;
            }
            double n = (random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5) * 24;
            image[x, y] = new Rgb24(Clamp(r + n), Clamp(g + n), Clamp(b + n));
        }
        using (var file = File.Create(path)) image.SaveAsJpeg(file, new JpegEncoder { Quality = quality });
        return new FileInfo(path).Length;
    }

    private static byte Clamp(double v) => (byte)Math.Max(0, Math.Min(255, Math.Round(v)));
}
'@

function New-CubMetadata([string] $root, [int] $count, [int] $classes, [switch] $WithImages) {
    New-Item -ItemType Directory -Force (Join-Path $root 'parts'), (Join-Path $root 'images') | Out-Null
    $perClass = [Math]::Ceiling($count / $classes)
    $images = [Collections.Generic.List[string]]::new(); $labels = [Collections.Generic.List[string]]::new()
    $split = [Collections.Generic.List[string]]::new(); $boxes = [Collections.Generic.List[string]]::new()
    $locs = [Collections.Generic.List[string]]::new()
    $classLines = foreach ($k in 1..$classes) { '{0} {0:D3}.Class_{0}' -f $k }
    for ($id = 1; $id -le $count; $id++) {
        $k = [Math]::Min($classes, [Math]::Floor(($id - 1) / $perClass) + 1)
        $relative = '{0:D3}.Class_{0}/Bird_{1:D5}.jpg' -f $k, $id
        $images.Add("$id $relative"); $labels.Add("$id $k"); $split.Add("$id $($id % 2)")
        $boxes.Add("$id 1.0 1.0 6.0 6.0")
        for ($p = 1; $p -le 15; $p++) { $locs.Add("$id $p 3.0 4.0 1") }
    }
    Set-Content (Join-Path $root 'classes.txt') $classLines
    Set-Content (Join-Path $root 'images.txt') $images
    Set-Content (Join-Path $root 'image_class_labels.txt') $labels
    Set-Content (Join-Path $root 'train_test_split.txt') $split
    Set-Content (Join-Path $root 'bounding_boxes.txt') $boxes
    Set-Content (Join-Path $root 'parts/parts.txt') (1..15 | ForEach-Object { "$_ part $_" })
    Set-Content (Join-Path $root 'parts/part_locs.txt') $locs
    if ($WithImages) {
        $tiny = Join-Path $root 'tiny.jpg'
        [void][BenchImages]::WriteJpeg($tiny, 8, 8, 1, 75)
        $bytes = [IO.File]::ReadAllBytes($tiny)
        foreach ($line in $images) {
            $file = Join-Path $root ('images/' + $line.Split(' ')[1])
            [void][IO.Directory]::CreateDirectory([IO.Path]::GetDirectoryName($file))
            [IO.File]::WriteAllBytes($file, $bytes)
        }
    }
}

# CPU time of this process: on a shared machine wall-clock rates mostly measure the neighbours.
function Get-CpuSeconds { [Diagnostics.Process]::GetCurrentProcess().TotalProcessorTime.TotalSeconds }

$results = [Collections.Generic.List[object]]::new()
function Add-Result([string] $measure, [string] $value, [string] $target) { $results.Add([pscustomobject]@{ Measure = $measure; Value = $value; Target = $target }) }

New-Item -ItemType Directory -Force $WorkFolder | Out-Null
try {
    # 1. JPEG throughput, one core.
    $cub = Join-Path $WorkFolder 'jpegs/CUB_200_2011'
    New-Item -ItemType Directory -Force (Join-Path $cub 'images/001.A'), (Join-Path $cub 'images/002.B') | Out-Null
    $bytes = 0L
    $lines = for ($i = 1; $i -le $JpegCount; $i++) {
        $relative = '{0}/img{1:D4}.jpg' -f $(if ($i % 2) { '001.A' } else { '002.B' }), $i
        $bytes += [BenchImages]::WriteJpeg((Join-Path $cub "images/$relative"), 500, 375, $i, 75)
        [pscustomobject]@{ Id = $i; Path = $relative; Class = 2 - ($i % 2) }
    }
    Set-Content (Join-Path $cub 'images.txt') ($lines | ForEach-Object { "$($_.Id) $($_.Path)" })
    Set-Content (Join-Path $cub 'image_class_labels.txt') ($lines | ForEach-Object { "$($_.Id) $($_.Class)" })
    Set-Content (Join-Path $cub 'train_test_split.txt') ($lines | ForEach-Object { "$($_.Id) 1" })
    Set-Content (Join-Path $cub 'bounding_boxes.txt') ($lines | ForEach-Object { "$($_.Id) 60.0 40.0 380.0 300.0" })
    Set-Content (Join-Path $cub 'classes.txt') '1 001.A', '2 002.B'
    $ds = Import-ProtoPNetDataset $cub -CropToBoundingBox -MemoryBudgetMB 0
    [TorchSharp.torch]::set_num_threads(1)
    $imageThreads = [ProtoPNet.Data.ImageDecoder]::Configuration.MaxDegreeOfParallelism
    [ProtoPNet.Data.ImageDecoder]::Configuration.MaxDegreeOfParallelism = 1   # ImageSharp would otherwise resize on all cores
    $reader = [ProtoPNet.Data.BatchReader]::new($ds, 224, [ProtoPNet.Data.ImageNormalization]::ImageNet)
    $reader.DecodeWorkers = 1
    $reader.PrefetchBatches = 0
    $order = [int[]](0..($ds.Count - 1))
    # Warm-up (JIT, first decoder use) on a few images, then the timed pass.
    foreach ($b in $reader.Read([int[]](0..9), 10, $null, [Threading.CancellationToken]::None)) { $b.Dispose() }
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $cpu0 = (Get-CpuSeconds)
    $n = 0
    foreach ($b in $reader.Read($order, 40, $null, [Threading.CancellationToken]::None)) { $n += $b.Indices.Length; $b.Dispose() }
    $sw.Stop()
    $cpu = (Get-CpuSeconds) - $cpu0
    Add-Result 'JPEG 500×375 → crop 380×300 → 224×224 → normalized, 1 thread' ('{0:N0} images per CPU-second ({1:N0}/s wall; {2} images, {3:N0} KB average file)' -f ($n / $cpu), ($n / $sw.Elapsed.TotalSeconds), $n, ($bytes / $JpegCount / 1KB)) '≥ 100 images/s/core'
    [TorchSharp.torch]::set_num_threads([Environment]::ProcessorCount)
    [ProtoPNet.Data.ImageDecoder]::Configuration.MaxDegreeOfParallelism = $imageThreads

    # 2. IDX in memory.
    $full = Join-Path $FashionMnist 'train-images-idx3-ubyte.gz'
    $idxPath = if (Test-Path $full) { $full } else { Join-Path $repo 'data/fashion-mnist-sample/train-images-idx3-ubyte.gz' }
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $idx = Import-ProtoPNetDataset -LiteralPath $idxPath
    $open = $sw.Elapsed.TotalSeconds
    $reader = [ProtoPNet.Data.BatchReader]::new($idx, 28, [ProtoPNet.Data.ImageNormalization]::ImageNet)
    $sw.Restart()
    $cpu0 = (Get-CpuSeconds)
    $n = 0
    foreach ($b in $reader.Read([int[]](0..($idx.Count - 1)), 256, $null, [Threading.CancellationToken]::None)) { $n += $b.Indices.Length; $b.Dispose() }
    $pass = $sw.Elapsed.TotalSeconds
    $cpu = (Get-CpuSeconds) - $cpu0
    Add-Result ("IDX: {0:N0} Fashion-MNIST images read into memory (gunzip + parse)" -f $idx.Count) ('{0:N2} s ({1:N0} MB as uint8)' -f $open, ($idx.Count * 784 / 1MB)) '< 5 s'
    Add-Result 'IDX: one pass of normalized 28×28 RGB batches of 256' ('{0:N2} s wall, {1:N2} CPU-s ({2:N0} images)' -f $pass, $cpu, $n) ''
    $idx.Pixels.Dispose()

    # 3. CUB-sized metadata, in a fresh process per measure so the peak is the import's own.
    $meta = Join-Path $WorkFolder 'cubmeta/CUB_200_2011'
    New-CubMetadata $meta 11788 200 -WithImages
    foreach ($probe in $false, $true) {
        $script = @"
Import-Module '$manifest'
`$before = [GC]::GetTotalMemory(`$true)
`$rss0 = [int64]((Get-Content /proc/self/status | Select-String '^VmRSS') -replace '\D', '') * 1KB
`$sw = [Diagnostics.Stopwatch]::StartNew()
`$ds = Import-ProtoPNetDataset '$meta' $(if (-not $probe) { '-NoProbe' })
`$t = `$sw.Elapsed.TotalSeconds
`$after = [GC]::GetTotalMemory(`$true)
`$hwm = [int64]((Get-Content /proc/self/status | Select-String '^VmHWM') -replace '\D', '') * 1KB
"{0}|{1}|{2}|{3}" -f `$ds.Count, `$t, (`$after - `$before), (`$hwm - `$rss0)
[GC]::KeepAlive(`$ds)
"@
        # Under 'dotnet pwsh' (the repository's tool manifest) the host is dotnet itself.
        $host0 = [Environment]::ProcessPath
        $lines = if ([IO.Path]::GetFileNameWithoutExtension($host0) -eq 'dotnet') {
            Push-Location $repo; try { & $host0 pwsh -NoProfile -NonInteractive -Command $script } finally { Pop-Location }
        } else { & $host0 -NoProfile -NonInteractive -Command $script }
        $out = ($lines | Select-Object -Last 1).Split('|')
        $label = if ($probe) { 'CUB metadata + header check of 11,788 JPEGs' } else { 'CUB metadata only (11,788 images, 15 parts each), -NoProbe' }
        Add-Result $label ('{0:N2} s; {1:N1} MB retained (managed); peak RSS +{2:N0} MB' -f [double]$out[1], ([double]$out[2] / 1MB), ([double]$out[3] / 1MB)) 'no pixels decoded'
    }
}
finally {
    Remove-Item -Recurse -Force $WorkFolder -ErrorAction SilentlyContinue
}
$results | Format-Table -AutoSize | Out-String -Width 220
