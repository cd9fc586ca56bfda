<#
.SYNOPSIS
    Builds, tests and demonstrates ProtoPNet.PS.
.DESCRIPTION
    -Task Build  compiles the solution and lays out the module under ./bin so that
                 'Import-Module ./ProtoPNet.psd1' works from the repository root.
    -Task Test   builds, then runs every xunit and Pester test; prints 'N passed, N failed' last
                 and exits non-zero on any failure.
    -Task Demo   builds, then runs scripts/demo.ps1 on the bundled Fashion-MNIST sample.
    -Task Package builds, then writes out/package/ProtoPNet.PS.<version>.nupkg (scripts/New-ModulePackage.ps1):
                 a module package for a PowerShell repository (a folder feed will do), native libtorch bundled.
    -Cuda        builds against the CUDA 12.8 libtorch instead of the CPU one (for machines with an
                 NVIDIA GPU; the package is ~2.5 GB). Without it, '-Device cuda' gives a clear error.
.EXAMPLE
    dotnet tool restore; dotnet pwsh ./build.ps1 -Task Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Demo', 'Package')]
    [string] $Task = 'Build',
    [ValidateSet('Release', 'Debug')]
    [string] $Configuration = 'Release',
    [switch] $Cuda
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$moduleBin = Join-Path $root 'bin'
$backend = if ($Cuda) { 'cuda' } else { 'cpu' }

function Invoke-Native([string] $what, [scriptblock] $command) {
    & $command
    if ($LASTEXITCODE -ne 0) { throw "$what failed with exit code $LASTEXITCODE." }
}

function Invoke-Build {
    $sw = [Diagnostics.Stopwatch]::StartNew()
    Invoke-Native 'dotnet build' {
        dotnet build (Join-Path $root 'ProtoPNet.PS.sln') -c $Configuration -p:ProtoPNetTorchBackend=$backend --nologo -v quiet
    }
    # The module folder: the cmdlet assembly and every dependency, native libtorch included (GLIBCXX-patched by the build).
    Invoke-Native 'dotnet publish' {
        dotnet publish (Join-Path $root 'src/ProtoPNet.PowerShell/ProtoPNet.PowerShell.csproj') -c $Configuration `
            -p:ProtoPNetTorchBackend=$backend -o $moduleBin --no-build --nologo -v quiet
    }
    # Experiment code (synthetic data sets, benchmark harnesses) beside the module, not in it: scripts and tests load it from here.
    $experiments = Join-Path $moduleBin 'experiments'
    New-Item -ItemType Directory -Force $experiments | Out-Null
    Copy-Item (Join-Path $root "src/ProtoPNet.Benchmarks/bin/$Configuration/net8.0/$(Get-RuntimeIdentifier)/ProtoPNet.Benchmarks.dll") $experiments -Force

    # The offline ImageNet ResNet-18: converted once from the NuGet package's ONNX file into bin/weights.
    $weights = Join-Path $moduleBin 'weights/resnet18-imagenet.safetensors'
    if (-not (Test-Path $weights)) {
        $onnx = Join-Path (Get-NuGetCache) 'microsoft.ml.dnnimagefeaturizer.resnet18/0.23.1/tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx'
        dotnet pwsh -NoProfile -NonInteractive -Command "Add-Type -Path '$(Join-Path $moduleBin 'ProtoPNet.Core.dll')'; `$s = [ProtoPNet.Model.Backbones.ImageNetResNet18]::Convert('$onnx', '$weights'); 'Converted the ImageNet ResNet-18 ONNX weights in {0:n1} s.' -f `$s"
        if ($LASTEXITCODE -ne 0) { throw 'Converting the ImageNet ResNet-18 weights failed.' }
    }

    # Help next to the manifest (the module base): MAML for the cmdlets and the about_ProtoPNet topic.
    dotnet pwsh -NoProfile -NonInteractive -File (Join-Path $root 'scripts/Build-Help.ps1') -ModuleManifest (Join-Path $root 'ProtoPNet.psd1') `
        -HelpSource (Join-Path $root 'module/help') -Destination (Join-Path $root 'en-US')
    if ($LASTEXITCODE -ne 0) { throw 'Building the help failed.' }
    Write-Host ("Module laid out in {0} ({1:n0} s). Import it with: Import-Module ./ProtoPNet.psd1" -f $moduleBin, $sw.Elapsed.TotalSeconds)
}

function Get-RuntimeIdentifier {
    $os = if ($IsWindows) { 'win' } elseif ($IsMacOS) { 'osx' } else { 'linux' }
    $arch = [Runtime.InteropServices.RuntimeInformation]::OSArchitecture.ToString().ToLowerInvariant()
    "$os-$arch"
}

function Get-NuGetCache {
    ((dotnet nuget locals global-packages --list) -replace '^global-packages:\s*', '').Trim()
}

function Get-PesterManifest {
    $manifest = Join-Path (Get-NuGetCache) 'pester/6.2.0/tools/Pester.psd1'
    if (-not (Test-Path $manifest)) { throw "Pester 6.2.0 is not in the NuGet cache ($manifest); 'dotnet restore' of the test project downloads it." }
    $manifest
}

# The two HTML tests of tests/pester/Explanation.Tests.ps1 render pages in headless Chromium. Installs it where that is
# possible (Linux, apt-get, root: what .ci/run does); returns $null when Chromium is there, else why it is not.
function Initialize-Chromium {
    if (Get-Command chromium, chromium-browser -ErrorAction Ignore) { return $null }
    if (-not $IsLinux) { return 'chromium is not installed (the test task installs it only on Linux with apt-get)' }
    if (-not (Get-Command apt-get -ErrorAction Ignore)) { return 'chromium is not installed and apt-get is not available to install it' }
    if ((id -u) -ne '0') { return 'chromium is not installed and installing it with apt-get needs root (sudo apt-get install chromium)' }
    Write-Host 'Installing Chromium for the HTML tests: apt-get update; apt-get install -y chromium'
    apt-get update -qq | Out-Host
    if ($LASTEXITCODE -ne 0) { return "chromium is not installed: 'apt-get update' failed with exit code $LASTEXITCODE" }
    apt-get install -y -qq chromium | Out-Host
    if ($LASTEXITCODE -ne 0) { return "chromium is not installed: 'apt-get install -y chromium' failed with exit code $LASTEXITCODE" }
    if (Get-Command chromium, chromium-browser -ErrorAction Ignore) { return $null }
    'chromium is not installed: apt-get installed the package but no chromium command is on PATH'
}

# --- Loopback SSH server for the remoting tests (tests/pester/Distributed.Tests.ps1) ---------------------------------
# An OpenSSH server on 127.0.0.1 with its own port, keys and config in a temp folder, the 'powershell' subsystem running
# this PowerShell. Installs Debian's openssh-server when missing and this runs as root with apt-get. The Pester child
# inherits PTPN_SSH_*; without a server those tests are skipped with the reason printed.
function Start-TestSshServer {
    . (Join-Path $root 'tests/pester/LoopbackSshd.ps1')
    try { Start-LoopbackSshd } catch { Write-Warning "No loopback SSH server for the remoting tests: $_"; $null }
}

function Stop-TestSshServer($server) {
    if ($server) { . (Join-Path $root 'tests/pester/LoopbackSshd.ps1'); Stop-LoopbackSshd $server }
}
# ---------------------------------------------------------------------------------------------------------------------

function Invoke-Tests {
    $results = Join-Path $root 'out/test-results'
    New-Item -ItemType Directory -Force $results | Out-Null

    # xunit: counted from the TRX file the run writes.
    $trx = Join-Path $results 'xunit.trx'
    Remove-Item $trx -ErrorAction Ignore
    dotnet test (Join-Path $root 'tests/ProtoPNet.Core.Tests/ProtoPNet.Core.Tests.csproj') -c $Configuration `
        -p:ProtoPNetTorchBackend=$backend --no-build --nologo --logger "trx;LogFileName=$trx" --logger 'console;verbosity=normal'
    $xunitExit = $LASTEXITCODE
    $xunitPassed = 0; $xunitFailed = 0
    if (Test-Path $trx) {
        $summary = ([xml](Get-Content -Raw $trx)).TestRun.ResultSummary
        $counters = $summary.Counters
        $xunitPassed = [int]$counters.passed
        $xunitFailed = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
        # A crashed test host leaves a TRX of the tests that finished, none failed: the run itself is the failure.
        if ($xunitFailed -eq 0 -and ($xunitExit -ne 0 -or $summary.outcome -ne 'Completed')) {
            $xunitFailed = 1
            Write-Warning "The xunit run did not finish (outcome '$($summary.outcome)', exit code $xunitExit): counted as one failure."
        }
    } else {
        $xunitFailed = 1
        Write-Warning 'xunit wrote no results file: counted as one failure.'
    }

    # Pester: in a fresh pwsh so the module and its native libraries load as a user's session would load them.
    # Tests that cannot run here (no Chromium) report themselves skipped, with the reason; the reason is counted below.
    $env:PROTOPNET_CHROMIUM_MISSING = Initialize-Chromium
    $pester = Get-PesterManifest
    $pesterJson = Join-Path $results 'pester.json'
    Remove-Item $pesterJson -ErrorAction Ignore
    $script = @"
Import-Module '$pester'
`$config = New-PesterConfiguration
`$config.Run.Path = '$(Join-Path $root 'tests/pester')'
`$config.Run.PassThru = `$true
`$config.Output.Verbosity = 'Detailed'
`$r = Invoke-Pester -Configuration `$config
`$skipped = @(`$r.Skipped | ForEach-Object { '{0} ({1})' -f `$_.ExpandedPath, ((`$_.ErrorRecord | Select-Object -First 1).Exception.Message -replace '^is skipped,?\s*(because\s*)?', '') })
@{ Passed = `$r.PassedCount; Failed = `$r.FailedCount + `$r.FailedBlocksCount + `$r.FailedContainersCount; Skipped = `$skipped } | ConvertTo-Json | Set-Content '$pesterJson'
"@
    $sshServer = Start-TestSshServer
    try { dotnet pwsh -NoProfile -NonInteractive -Command $script }
    finally { Stop-TestSshServer $sshServer }
    $pesterPassed = 0; $pesterFailed = 1; $pesterSkipped = @()
    if (Test-Path $pesterJson) {
        $p = Get-Content -Raw $pesterJson | ConvertFrom-Json
        $pesterPassed = [int]$p.Passed; $pesterFailed = [int]$p.Failed; $pesterSkipped = @($p.Skipped)
    } else {
        Write-Warning 'Pester wrote no results: counted as one failure.'
    }

    Write-Host ("xunit: {0} passed, {1} failed; Pester: {2} passed, {3} failed" -f $xunitPassed, $xunitFailed, $pesterPassed, $pesterFailed)
    # Skipped tests are neither passed nor failed: said on the line before the closing one, each with its reason.
    if ($pesterSkipped.Count -gt 0) {
        Write-Output ("{0} skipped: {1}" -f $pesterSkipped.Count, ($pesterSkipped -join '; '))
    }
    $passed = $xunitPassed + $pesterPassed
    $failed = $xunitFailed + $pesterFailed
    Write-Output "$passed passed, $failed failed"
    if ($failed -gt 0) { exit 1 }
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Test' { Invoke-Build; Invoke-Tests }
    'Package' {
        Invoke-Build
        dotnet pwsh -NoProfile -NonInteractive -File (Join-Path $root 'scripts/New-ModulePackage.ps1') -Destination (Join-Path $root 'out/package')
        if ($LASTEXITCODE -ne 0) { throw 'Packing the module failed.' }
    }
    'Demo' {
        Invoke-Build
        dotnet pwsh -NoProfile -File (Join-Path $root 'scripts/demo.ps1')
        if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    }
}
