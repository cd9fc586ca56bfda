# The module package: packed from ./bin (or taken from out/package when it is newer than the build), installed from a
# folder feed into a temporary folder (Save-PSResource), imported by name in a child pwsh started elsewhere.
BeforeAll {
    $script:root = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:work = Join-Path ([IO.Path]::GetTempPath()) "ptpn-pkg-$([guid]::NewGuid().ToString('N'))"
    New-Item -ItemType Directory $work | Out-Null
    $version = (Import-PowerShellDataFile (Join-Path $root 'ProtoPNet.psd1')).ModuleVersion
    $built = Get-Item (Join-Path $root 'bin/ProtoPNet.PowerShell.dll'), (Join-Path $root 'bin/ProtoPNet.Core.dll')
    $existing = Get-Item (Join-Path $root "out/package/ProtoPNet.PS.$version.nupkg") -ErrorAction Ignore
    $script:packSeconds = 0
    if ($existing -and $existing.LastWriteTimeUtc -gt ($built.LastWriteTimeUtc | Sort-Object -Descending | Select-Object -First 1)) {
        $script:feed = $existing.DirectoryName
    } else {
        $script:feed = Join-Path $work 'feed'
        $sw = [Diagnostics.Stopwatch]::StartNew()
        & (Join-Path $root 'scripts/New-ModulePackage.ps1') -Destination $feed | Out-Null
        $script:packSeconds = $sw.Elapsed.TotalSeconds
    }
    $script:package = Get-Item (Join-Path $feed "ProtoPNet.PS.$version.nupkg")
    # The PowerShell running these tests (the dotnet-tool one: dotnet + pwsh.dll), started afresh.
    $script:pwsh = @(if ((Split-Path -Leaf ([Environment]::ProcessPath)) -like 'dotnet*') { [Environment]::ProcessPath; Join-Path $PSHOME 'pwsh.dll' } else { [Environment]::ProcessPath })
}

AfterAll {
    Remove-Item $work -Recurse -Force -ErrorAction Ignore
}

Describe 'The module package' {
    It 'installs from a folder feed and imports by name from another folder' {
        $repo = "PtpnTest$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        $modules = Join-Path $work 'modules'
        New-Item -ItemType Directory $modules | Out-Null
        Register-PSResourceRepository -Name $repo -Uri $feed -Trusted
        $sw = [Diagnostics.Stopwatch]::StartNew()
        try { Save-PSResource ProtoPNet.PS -Repository $repo -Path $modules -TrustRepository }
        finally { Unregister-PSResourceRepository -Name $repo }
        Write-Host ("Package {0:n0} MB (packed in {1:n0} s); installed in {2:n0} s." -f ($package.Length / 1MB), $packSeconds, $sw.Elapsed.TotalSeconds)
        Test-Path (Join-Path $modules 'ProtoPNet.PS/*/ProtoPNet.PS.psd1') | Should -BeTrue
        Test-Path (Join-Path $modules 'ProtoPNet.PS/*/bin/experiments') | Should -BeFalse

        $env:PSModulePath, $saved = "$modules$([IO.Path]::PathSeparator)$env:PSModulePath", $env:PSModulePath
        Push-Location $work
        try {
            $exe = $pwsh[0]; $first = @($pwsh | Select-Object -Skip 1)
            $out = & $exe @first -NoProfile -NonInteractive -Command @'
$ErrorActionPreference = 'Stop'
Import-Module ProtoPNet.PS
$m = New-ProtoPNet -Backbone smallcnn -ClassCount 2 -ImageSize 28
"base=$((Get-Module ProtoPNet.PS).ModuleBase)"
"prototypes=$($m.PrototypeCount)"
"help=$((Get-Help Merge-ProtoPNetTestResult).Synopsis.Length -gt 0)"
'@ 2>&1
        } finally {
            Pop-Location
            $env:PSModulePath = $saved
        }
        $LASTEXITCODE | Should -Be 0 -Because ($out | Out-String)
        $out | Should -Contain "base=$(Resolve-Path (Join-Path $modules 'ProtoPNet.PS/*'))"
        $out | Should -Contain 'prototypes=20'
        $out | Should -Contain 'help=True'
    }

    It 'leaves the developer manifest alone' {
        (Import-PowerShellDataFile (Join-Path $root 'ProtoPNet.psd1')).RootModule | Should -Be 'bin/ProtoPNet.PowerShell.dll'
        Test-Path (Join-Path $root 'ProtoPNet.PS.psd1') | Should -BeFalse
    }
}
