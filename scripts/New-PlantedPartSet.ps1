<#
.SYNOPSIS
    Writes a planted-part data set: the class of each image is decided by one small key glyph at a random place.
.DESCRIPTION
    Each image holds one key glyph (4 shapes × 2 colours = up to 8 classes) and distractor glyphs of shapes no class
    uses (some in the key colours) on a smooth, noisy background. Writes ImageFolder class folders train/ and test/ and,
    beside them, parts.csv (the key glyph's box per image: Image, Part, X, Y, Width, Height, Image relative to the root)
    and distractors.csv. Deterministic for a seed. Build the module first: dotnet pwsh ./build.ps1
.EXAMPLE
    ./scripts/New-PlantedPartSet.ps1 -Path ./out/planted                       # 8 classes × (200 + 50) images, 64 px
.EXAMPLE
    ./scripts/New-PlantedPartSet.ps1 -Path ./out/small -TrainPerClass 40 -TestPerClass 10 -ImageSize 48 -GlyphSize 12
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $Path,
    [ValidateRange(16, 1024)] [int] $ImageSize = 64,
    [ValidateRange(2, 8)] [int] $ClassCount = 8,
    [ValidateRange(1, 100000)] [int] $TrainPerClass = 200,
    [ValidateRange(0, 100000)] [int] $TestPerClass = 50,
    [ValidateRange(5, 512)] [int] $GlyphSize = 14,
    [ValidateRange(0, 8)] [int] $Distractors = 2,
    [int] $Seed = 1
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'Import-Experiments.ps1')
$options = [ProtoPNet.Benchmarks.PlantedPartOptions]@{
    ImageSize = $ImageSize; ClassCount = $ClassCount; TrainPerClass = $TrainPerClass; TestPerClass = $TestPerClass
    GlyphSize = $GlyphSize; Distractors = $Distractors; Seed = $Seed
}
[ProtoPNet.Benchmarks.PlantedPartSet]::Write($ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path), $options)
