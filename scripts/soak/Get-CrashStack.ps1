<#
.SYNOPSIS
    The managed frames of the thread that crashed, read from a dump with dotnet-dump (a local dotnet tool).
.DESCRIPTION
    createdump names the crashing thread on stderr ("[createdump] Crashing thread 40d9 signal 11"); give that id as
    -ThreadId. Without it, the dump's current thread is used (usually the main thread, not the one that crashed).
    Returns one line: the innermost frames, innermost first, joined by ' <- ' (interop stubs and frames of
    PowerShell's script interpreter left out).
.EXAMPLE
    ./scripts/soak/Get-CrashStack.ps1 -Dump ./out/soak/dumps/soak-16584.dmp -ThreadId 40d9
#>
[CmdletBinding()]
param([Parameter(Mandatory)] [string] $Dump, [string] $ThreadId, [int] $Frames = 5)
$text = if ($ThreadId) { & dotnet dotnet-dump analyze $Dump -c 'clrstack -all' -c 'exit' 2>&1 | Out-String }
        else { & dotnet dotnet-dump analyze $Dump -c 'clrstack' -c 'exit' 2>&1 | Out-String }
if ($ThreadId) {
    $id = [Convert]::ToInt64($ThreadId, 16)
    $block = ($text -split 'OS Thread Id: ') | Where-Object { $_ -match '^0x([0-9a-fA-F]+)' -and [Convert]::ToInt64($Matches[1], 16) -eq $id } | Select-Object -First 1
    if (-not $block) { return "(thread $ThreadId has no managed frames in the dump)" }
    $text = $block
}
$lines = foreach ($line in $text -split "`n") {
    if ($line -match '\[InlinedCallFrame: [0-9a-fA-F]+\]\s+(\S.+)$') { $Matches[1].Trim(); continue }   # the native call
    if ($line -match '^\s*[0-9A-Fa-f]{8,16}\s+[0-9A-Fa-f]{8,16}\s+([A-Za-z].+)$') { $Matches[1].Trim() }
}
$kept = @($lines | Where-Object { $_ -notmatch '^(DynamicClass|SOS Warning|System\.Management\.Automation\.Interpreter|ILStubClass)' } |
    Select-Object -Unique | Select-Object -First $Frames)
if ($kept.Count -eq 0) { return '(no managed frames)' }
($kept -replace ' \[/[^\]]*\]', '' -replace '\(([^)]{60})[^)]*\)', '($1…)') -join ' <- '
