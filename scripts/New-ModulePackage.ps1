<#
.SYNOPSIS
    Packs the built module (./bin, laid out by build.ps1) into ProtoPNet.PS.<version>.nupkg for a PowerShell
    repository, e.g. a folder feed: Register-PSResourceRepository -Name Local -Uri <folder>;
    Install-PSResource ProtoPNet.PS -Repository Local -TrustRepository; Import-Module ProtoPNet.PS.
.DESCRIPTION
    A module package's id is the name of its manifest, so the package is laid out in a staging folder
    ProtoPNet.PS/ with ProtoPNet.PS.psd1 (the repository's ProtoPNet.psd1 under the package's name; the relative
    paths bin/, module/ and en-US/ stay as they are), the module's bin/ without experiments/, the format file and
    the help. Native libtorch for this machine's platform is bundled (bin/libtorch_cpu.so and friends): the package
    installs offline from a file share and needs nothing at import. It therefore serves this platform (the
    tag names it); build the package on each platform you deploy to.
.OUTPUTS
    The .nupkg file (FileInfo).
#>
[CmdletBinding()]
param(
    # Where the .nupkg goes (created when missing).
    [string] $Destination = (Join-Path $PSScriptRoot '../out/package'),
    # The staging folder (default: a fresh temp folder, removed afterwards).
    [string] $Staging
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = Resolve-Path (Join-Path $PSScriptRoot '..')
$bin = Join-Path $root 'bin'
if (-not (Test-Path (Join-Path $bin 'ProtoPNet.PowerShell.dll'))) { throw "The module is not built: run 'dotnet pwsh ./build.ps1' first." }
if (-not (Test-Path (Join-Path $root 'en-US'))) { throw "The help (en-US/) is not built: run 'dotnet pwsh ./build.ps1' first." }

$ownStaging = -not $Staging
if ($ownStaging) { $Staging = Join-Path ([IO.Path]::GetTempPath()) "ptpn-package-$([guid]::NewGuid().ToString('N'))" }
$module = Join-Path $Staging 'ProtoPNet.PS'
try {
    if (Test-Path $module) { Remove-Item $module -Recurse -Force }
    New-Item -ItemType Directory -Force (Join-Path $module 'module') | Out-Null
    # bin/ without the experiment assemblies, debug symbols or the build's XML doc file.
    Copy-Item $bin $module -Recurse -Exclude 'experiments'
    Remove-Item (Join-Path $module 'bin/experiments') -Recurse -Force -ErrorAction Ignore
    Get-ChildItem (Join-Path $module 'bin') -File | Where-Object Extension -In '.pdb', '.xml' | Remove-Item
    Copy-Item (Join-Path $root 'module/ProtoPNet.Format.ps1xml') (Join-Path $module 'module')
    Copy-Item (Join-Path $root 'en-US') $module -Recurse

    $rid = "$(if ($IsWindows) { 'win' } elseif ($IsMacOS) { 'osx' } else { 'linux' })-$([Runtime.InteropServices.RuntimeInformation]::OSArchitecture.ToString().ToLowerInvariant())"
    $manifest = Get-Content -Raw (Join-Path $root 'ProtoPNet.psd1')
    # The platform this package's native libtorch is for, as a tag (PSData tags: letters, digits, '-' only).
    $manifest = $manifest -replace "Tags = @\(", "Tags = @('$rid', 'libtorch-bundled', "
    Set-Content (Join-Path $module 'ProtoPNet.PS.psd1') $manifest -NoNewline
    Test-ModuleManifest (Join-Path $module 'ProtoPNet.PS.psd1') | Out-Null

    New-Item -ItemType Directory -Force $Destination | Out-Null
    $Destination = (Resolve-Path $Destination).Path
    $version = (Import-PowerShellDataFile (Join-Path $module 'ProtoPNet.PS.psd1')).ModuleVersion
    Remove-Item (Join-Path $Destination "ProtoPNet.PS.$version.nupkg") -ErrorAction Ignore
    $sw = [Diagnostics.Stopwatch]::StartNew()
    Compress-PSResource -Path $module -DestinationPath $Destination
    $package = Get-Item (Join-Path $Destination "ProtoPNet.PS.$version.nupkg")
    $unpacked = (Get-ChildItem $module -Recurse -File | Measure-Object Length -Sum).Sum
    Write-Host ("Packed {0} ({1:n0} MB; {2:n0} MB unpacked) in {3:n0} s." -f $package.FullName, ($package.Length / 1MB), ($unpacked / 1MB), $sw.Elapsed.TotalSeconds)
    $package
}
finally {
    if ($ownStaging) { Remove-Item $Staging -Recurse -Force -ErrorAction Ignore }
}
