<#
.SYNOPSIS
    Soaks the module: real work in child processes, one after another, for -Minutes; records each child's exit code or
    signal, its duration and, when it dies, a dump and the stack it died on. Prints a table and writes soak.json.
.DESCRIPTION
    A host crash loses a user's whole PowerShell session, and the lifetime bugs that cause one (docs/performance.md,
    "Object lifetimes") strike once in many minutes. This harness makes them show: every work kind of
    scripts/soak/Invoke-SoakWork.ps1 (the demo at its real size, training with checkpoints and -Resume, push → last-layer
    cycles, Get-Explanation over thousands of images and from ForEach-Object -Parallel, the interpretability metrics,
    export/import round trips) runs under each GC pressure in turn:
      None       the runtime's defaults;
      Gen0       DOTNET_GCgen0size=0x80000 (a collection every 512 KB allocated) and DOTNET_gcConcurrent=0;
      Collector  a thread that runs GC.Collect() and the pending finalizers back to back (or every -CollectorIntervalMs).
    A child that dies writes a heap dump (DOTNET_DbgEnableMiniDump) under -OutputDirectory/dumps; the harness reads the
    crashing thread's managed stack from it with dotnet-dump (a local dotnet tool: 'dotnet tool restore').
    Build first: dotnet pwsh ./build.ps1
.EXAMPLE
    dotnet pwsh ./scripts/soak.ps1 -Minutes 30
.EXAMPLE
    dotnet pwsh ./scripts/soak.ps1 -Minutes 60 -Kind Demo, Cycles -GcPressure Collector
#>
[CmdletBinding()]
param(
    [ValidateRange(1, 100000)] [double] $Minutes = 10,
    [ValidateSet('Demo', 'Resume', 'Checkpoints', 'EpochBoundaries', 'Cycles', 'Explain', 'Interpretability', 'ExportImport')]
    [string[]] $Kind = @('Demo', 'EpochBoundaries', 'Checkpoints', 'Resume', 'Cycles', 'Explain', 'Interpretability', 'ExportImport'),
    [ValidateSet('None', 'Gen0', 'Collector')] [string[]] $GcPressure = @('Collector', 'Gen0', 'None'),
    # Milliseconds the collector thread sleeps between forced collections (0: back to back).
    [ValidateRange(0, 10000)] [int] $CollectorIntervalMs = 0,
    [string] $OutputDirectory = (Join-Path $PSScriptRoot '../out/soak'),
    # Extra environment variables for every child (e.g. @{ PROTOPNET_KEEP_NNPACK = '1' }), to soak with a suspect off.
    [hashtable] $Environment = @{},
    [switch] $KeepWork
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = (Resolve-Path (Join-Path $PSScriptRoot '..')).Path
$OutputDirectory = (New-Item -ItemType Directory -Force $OutputDirectory).FullName
$dumps = (New-Item -ItemType Directory -Force (Join-Path $OutputDirectory 'dumps')).FullName
$logs = (New-Item -ItemType Directory -Force (Join-Path $OutputDirectory 'logs')).FullName
# The children run the same PowerShell as this script: a local dotnet tool runs as 'dotnet pwsh.dll'.
$pwsh = [Environment]::ProcessPath
$pwshPrefix = if ([IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') { @([Reflection.Assembly]::GetEntryAssembly().Location) } else { @() }

function Invoke-Child([string] $script, [string[]] $arguments, [hashtable] $environment, [string] $log) {
    $info = [Diagnostics.ProcessStartInfo]::new($pwsh)
    foreach ($a in @($pwshPrefix) + @('-NoProfile', '-NonInteractive', '-File', $script) + $arguments) { $info.ArgumentList.Add($a) }
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $info.WorkingDirectory = $root
    foreach ($k in $environment.Keys) { $info.Environment[$k] = [string]$environment[$k] }
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $process = [Diagnostics.Process]::Start($info)
    $stdout = $process.StandardOutput.ReadToEndAsync()
    $stderr = $process.StandardError.ReadToEndAsync()
    $process.WaitForExit()
    Set-Content -LiteralPath $log -Value ($stdout.Result + "`n--- stderr ---`n" + $stderr.Result)
    [pscustomobject]@{ ExitCode = $process.ExitCode; Pid = $process.Id; Seconds = $clock.Elapsed.TotalSeconds; Stdout = $stdout.Result; Stderr = $stderr.Result }
}

# Shared inputs, made once (not under pressure: they are inputs, not the test).
$fixtures = Join-Path $OutputDirectory 'fixtures'
if (-not (Test-Path (Join-Path $fixtures 'planted.ptpn'))) {
    Write-Host 'Making the soak fixtures (a Fashion-MNIST model, a planted-part set and its model)...'
    $made = Invoke-Child (Join-Path $PSScriptRoot 'soak/New-SoakFixture.ps1') @('-Path', $fixtures) @{} (Join-Path $logs 'fixtures.log')
    if ($made.ExitCode -ne 0) { throw "Making the fixtures failed (exit code $($made.ExitCode)); see $(Join-Path $logs 'fixtures.log')." }
}

$pressures = @{
    None      = @{}
    Gen0      = @{ DOTNET_GCgen0size = '0x80000'; DOTNET_gcConcurrent = '0' }
    Collector = @{}
}
$runs = [Collections.Generic.List[object]]::new()
$deadline = (Get-Date).AddMinutes($Minutes)
$combinations = @(foreach ($p in $GcPressure) { foreach ($k in $Kind) { [pscustomobject]@{ Kind = $k; Pressure = $p } } })
$next = 0
while ((Get-Date) -lt $deadline) {
    $c = $combinations[$next++ % $combinations.Count]
    $number = $runs.Count + 1
    $work = Join-Path $OutputDirectory "work/$number"
    $childEnvironment = @{
        NO_COLOR = '1'
        DOTNET_DbgEnableMiniDump = '1'
        DOTNET_DbgMiniDumpType = '2'                      # heap: managed objects and native stacks
        DOTNET_DbgMiniDumpName = (Join-Path $dumps 'soak-%p.dmp')
    } + $pressures[$c.Pressure] + $Environment
    $arguments = @('-Kind', $c.Kind, '-FixtureDirectory', $fixtures, '-WorkDirectory', $work,
        '-CollectorIntervalMs', $(if ($c.Pressure -eq 'Collector') { $CollectorIntervalMs } else { -1 }))
    $log = Join-Path $logs ('{0:d3}-{1}-{2}.log' -f $number, $c.Kind, $c.Pressure)
    Write-Host ('[{0:HH:mm:ss}] run {1}: {2} under {3}' -f (Get-Date), $number, $c.Kind, $c.Pressure)
    $r = Invoke-Child (Join-Path $PSScriptRoot 'soak/Invoke-SoakWork.ps1') $arguments $childEnvironment $log
    $signal = if ($r.ExitCode -gt 128) { $r.ExitCode - 128 } else { $null }
    $dump = Join-Path $dumps "soak-$($r.Pid).dmp"
    $outcome = if ($r.ExitCode -eq 0) { 'ok' } elseif ($signal) { "crash (signal $signal)" } else { "failed (exit $($r.ExitCode))" }
    $crashingThread = if ("$($r.Stdout)$($r.Stderr)" -match 'Crashing thread ([0-9a-fA-F]+)') { $Matches[1] } else { $null }
    $where = if (Test-Path $dump) { & (Join-Path $PSScriptRoot 'soak/Get-CrashStack.ps1') -Dump $dump -ThreadId $crashingThread } elseif ($r.ExitCode -ne 0) { (($r.Stderr -split "`n" | Where-Object { $_.Trim() }) | Select-Object -Last 2) -join ' ' } else { '' }
    $runs.Add([pscustomobject]@{
        Run = $number; Kind = $c.Kind; Pressure = $c.Pressure; Outcome = $outcome; ExitCode = $r.ExitCode
        Seconds = [math]::Round($r.Seconds, 1); Dump = $(if (Test-Path $dump) { $dump } else { '' }); Where = $where; Log = $log
    })
    Write-Host ('             {0} in {1:n0} s{2}' -f $outcome, $r.Seconds, $(if ($where) { ": $where" } else { '' }))
    if (-not $KeepWork) { Remove-Item -Recurse -Force $work -ErrorAction Ignore }
}

$load = if (Test-Path /proc/loadavg) { ((Get-Content /proc/loadavg) -split ' ')[0..2] -join ' ' } else { 'n/a' }
$summary = foreach ($group in $runs | Group-Object Kind, Pressure) {
    $first = $group.Group[0]
    [pscustomobject]@{
        Kind = $first.Kind; Pressure = $first.Pressure; Runs = $group.Count
        Minutes = [math]::Round(($group.Group | Measure-Object Seconds -Sum).Sum / 60, 1)
        Crashes = @($group.Group | Where-Object Outcome -like 'crash*').Count
        Failures = @($group.Group | Where-Object Outcome -like 'failed*').Count
    }
}
$summary | Format-Table -AutoSize | Out-Host
$crashes = @($runs | Where-Object Outcome -like 'crash*')
$failures = @($runs | Where-Object Outcome -like 'failed*')
'Total: {0} runs, {1:n1} minutes of work, {2} host crashes, {3} other failures; load average at the end {4}' -f `
    $runs.Count, (($runs | Measure-Object Seconds -Sum).Sum / 60), $crashes.Count, $failures.Count, $load | Out-Host
foreach ($r in $crashes + $failures) { '  run {0} {1}/{2} {3}: {4}' -f $r.Run, $r.Kind, $r.Pressure, $r.Outcome, $r.Where | Out-Host }
[pscustomobject]@{
    Started = $deadline.AddMinutes(-$Minutes).ToString('o'); Commit = (git -C $root rev-parse --short HEAD 2>$null); LoadAverage = $load
    Runs = $runs; Summary = $summary
} | ConvertTo-Json -Depth 4 | Set-Content (Join-Path $OutputDirectory 'soak.json')
if ($crashes.Count -gt 0 -or $failures.Count -gt 0) { exit 1 }
