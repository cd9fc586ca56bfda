<#
.SYNOPSIS
    Explains a data set on several hosts over PowerShell remoting (SSH): one shard per host at a time, a lost host's
    shard rerun on another, the shards' CSV files merged into one, every image exactly once.
.DESCRIPTION
    1. Sessions: New-PSSession -HostName … -KeyFilePath … (SSH remoting; every host needs PowerShell 7 with the
       'powershell' SSH subsystem and the module, e.g. Install-PSResource ProtoPNet.PS from a folder feed), or -Session.
    2. The model file goes to each session with Copy-Item -ToSession.
    3. Shard k of n (item i of the data set is in shard i mod n: Get-Explanation -ShardIndex k -ShardCount n) is
       explained on a host into a CSV written atomically there (temp file + rename), copied back (temp + rename again)
       to OutputDirectory/shard-k-of-n.csv. The data set is imported on each host with -DatasetParameters (splatted
       into Import-ProtoPNetDataset), so the data must be at that path on every host (a share, or copied before).
    4. A broken session (host lost, process killed) puts its shard back into the queue; it runs on another session
       (up to -MaxAttempts). The result lists the shards that were retried.
    5. The shard files are merged, sorted by ImageIndex and Rank, into OutputDirectory/explanations.csv: byte for byte
       what one process's 'Get-Explanation -Dataset … | Export-Csv' writes. Every image's global index is checked:
       each appears in exactly one shard, the one it belongs to.
    A rerun with the same OutputDirectory skips shards whose file is there (a file appears only when complete); run.json
    there records model hash and parameters, and a rerun with other ones stops instead of mixing results.

    Threads: each session sets torch threads to its host's cores divided by the sessions this run opens on that host
    (at least 1), unless -Threads. Do not run more torch processes per host than cores: two torch processes with
    2 threads each on 2 cores slowed everything 10-100x in our measurements.
.EXAMPLE
    ./scripts/Invoke-DistributedExplanation.ps1 -HostName node1, node2, node3 -KeyFilePath ~/.ssh/id_ed25519 -ModelPath ./fashion.ptpn `
        -DatasetParameters @{ Path = '/data/fashion'; Format = 'Idx'; Split = 'Test' } -OutputDirectory ./explained -Top 5
.OUTPUTS
    One summary: OutputPath, Images, Rows, ShardCount, Completed, Skipped (already complete), Retried, Failed, LostHosts, Seconds.
#>
[CmdletBinding(DefaultParameterSetName = 'Host')]
param(
    [Parameter(Mandatory, ParameterSetName = 'Host')] [string[]] $HostName,
    [Parameter(ParameterSetName = 'Host')] [int] $Port = 22,
    [Parameter(ParameterSetName = 'Host')] [string] $UserName,
    [Parameter(ParameterSetName = 'Host')] [string] $KeyFilePath,
    [Parameter(ParameterSetName = 'Host')] [hashtable] $SshOptions,
    [Parameter(Mandatory, ParameterSetName = 'Session')] [System.Management.Automation.Runspaces.PSSession[]] $Session,
    [Parameter(Mandatory)] [string] $ModelPath,
    [Parameter(Mandatory)] [hashtable] $DatasetParameters,
    [Parameter(Mandatory)] [string] $OutputDirectory,
    # Shards (default: one per session).
    [int] $ShardCount,
    [int] $Top = 10,
    [int] $BatchSize = 32,
    # Torch threads per session (default: the host's cores ÷ this run's sessions on it).
    [int] $Threads,
    # The module to import on the hosts: a name (installed there) or a manifest path there.
    [string] $Module = 'ProtoPNet.PS',
    [int] $MaxAttempts = 3,
    [double] $ShardTimeoutSeconds = 86400,
    [double] $TimeoutSeconds = 7 * 86400,
    # Called here as each shard starts: & $OnShardStarted $shard $worker (tests use it to kill a host mid-shard).
    [scriptblock] $OnShardStarted
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'DistributedWork.ps1')
$clock = [Diagnostics.Stopwatch]::StartNew()

$ModelPath = (Resolve-Path -LiteralPath $ModelPath).Path
New-Item -ItemType Directory -Force $OutputDirectory | Out-Null
$OutputDirectory = (Resolve-Path -LiteralPath $OutputDirectory).Path
$runSessions = Open-RunSession $PSBoundParameters
if (-not $ShardCount) { $ShardCount = $runSessions.Sessions.Count }

# The run's identity: a rerun into the same folder continues it, another run does not mix into it.
$run = [ordered]@{
    ModelSha256 = (Get-FileHash -LiteralPath $ModelPath -Algorithm SHA256).Hash
    Dataset = ($DatasetParameters.GetEnumerator() | Sort-Object Key | ForEach-Object { "$($_.Key)=$($_.Value)" }) -join ';'
    ShardCount = $ShardCount; Top = $Top
}
$runFile = Join-Path $OutputDirectory 'run.json'
if (Test-Path $runFile) {
    $previous = Get-Content -Raw $runFile | ConvertFrom-Json
    foreach ($key in $run.Keys) {
        if ("$($previous.$key)" -ne "$($run[$key])") { throw "'$OutputDirectory' holds shards of another run ($key was '$($previous.$key)', now '$($run[$key])'). Use another folder or empty it." }
    }
} else { $run | ConvertTo-Json | Set-Content $runFile }

function ShardFile([int] $k) { Join-Path $OutputDirectory "shard-$k-of-$ShardCount.csv" }
$shards = 0..($ShardCount - 1) | ForEach-Object { [pscustomobject]@{ Key = "shard $_/$ShardCount"; Index = $_ } }
$skipped = @($shards | Where-Object { Test-Path (ShardFile $_.Index) })
$todo = @($shards | Where-Object { -not (Test-Path (ShardFile $_.Index)) })
if ($skipped) { Write-Verbose "Already complete: $(($skipped | ForEach-Object Key) -join ', ')." }

$outcome = [pscustomobject]@{ Retried = @(); Failed = @(); LostHosts = @() }
$workers = @()
$countFile = Join-Path $OutputDirectory 'dataset-count.txt'    # the data set's size, once a host has told it
$script:datasetCount = if (Test-Path $countFile) { [int](Get-Content $countFile -TotalCount 1) } else { $null }
try {
    if ($todo) {
        $runId = [guid]::NewGuid().ToString('N').Substring(0, 8)
        $workers = Initialize-Worker -Session $runSessions.Sessions -Module $Module -File $ModelPath -Threads $Threads -RunId $runId
        if (-not $workers) { throw 'No session could be prepared.' }
        $remote = {
            param($model, $dataset, $k, $n, $top, $batch, $dir)
            $ErrorActionPreference = 'Stop'
            $m = Import-ProtoPNet -LiteralPath $model
            $data = Import-ProtoPNetDataset @dataset
            $final = Join-Path $dir "shard-$k-of-$n.csv"
            $tmp = "$final.$PID.tmp"
            Get-Explanation -Dataset $data -Model $m -ShardIndex $k -ShardCount $n -Top $top -BatchSize $batch -ErrorAction Continue |
                Export-Csv -LiteralPath $tmp
            Move-Item -LiteralPath $tmp -Destination $final -Force
            [pscustomobject]@{ Done = $true; Path = $final; Count = $data.Count }
        }
        $outcome = Invoke-WorkQueue -Worker $workers -Item $todo -Remote $remote -MaxAttempts $MaxAttempts `
            -ItemTimeoutSeconds $ShardTimeoutSeconds -TimeoutSeconds $TimeoutSeconds -OnStarted $OnShardStarted `
            -Arguments { param($shard, $w) , @($w.RemoteFile[$ModelPath], $DatasetParameters, $shard.Index, $ShardCount, $Top, $BatchSize, $w.Directory) } `
            -OnDone {
                param($shard, $w, $out)
                Copy-FromWorker $w $out.Path (ShardFile $shard.Index)
                Invoke-Command -Session $w.Session -ArgumentList $out.Path { param($p) Remove-Item -LiteralPath $p -ErrorAction Ignore }
                $script:datasetCount = $out.Count
                Set-Content $countFile $out.Count
            }
    }
} finally {
    Remove-Worker $workers -KeepSession:(-not $runSessions.Own)
}

# Merge: every shard file's lines, sorted by (ImageIndex, Rank), as text (so the file is byte for byte what one
# process's Export-Csv writes); each image in exactly one shard, the one it belongs to.
$complete = @($shards | Where-Object { Test-Path (ShardFile $_.Index) })
$rows = [Collections.Generic.List[object]]::new()
$seen = @{}
$misplaced = [Collections.Generic.List[int]]::new()
$header = $null
foreach ($shard in $complete) {
    $file = ShardFile $shard.Index
    $lines = [IO.File]::ReadAllLines($file)
    $records = @(Import-Csv -LiteralPath $file)
    if ($lines.Count -eq 0) { continue }
    if ($lines.Count - 1 -ne $records.Count) { throw "$file has fields with line breaks; it cannot be merged line by line." }
    if ($null -eq $header) { $header = $lines[0] } elseif ($header -ne $lines[0]) { throw "$file has other columns than the other shards." }
    for ($j = 0; $j -lt $records.Count; $j++) {
        $i = [int]$records[$j].ImageIndex
        if ($i % $ShardCount -ne $shard.Index) { $misplaced.Add($i) }
        if ($seen.ContainsKey($i) -and $seen[$i] -ne $shard.Index) { $misplaced.Add($i) }
        $seen[$i] = $shard.Index
        $rows.Add([pscustomobject]@{ ImageIndex = $i; Rank = [int]$records[$j].Rank; Line = $lines[$j + 1] })
    }
}
$outputPath = Join-Path $OutputDirectory 'explanations.csv'
$sorted = $null
if ($null -ne $header) {
    $sorted = @($rows | Sort-Object -Stable ImageIndex, Rank)
    $tmp = "$outputPath.$PID.tmp"
    [IO.File]::WriteAllLines($tmp, [string[]](@($header) + @($sorted.Line)))
    Move-Item -LiteralPath $tmp -Destination $outputPath -Force
}
if ($misplaced.Count) { Write-Error "Images in the wrong or in two shards: $(($misplaced | Select-Object -Unique -First 20) -join ', ')." -ErrorAction Continue }
$failed = @($shards | Where-Object { -not (Test-Path (ShardFile $_.Index)) } | ForEach-Object Key)
if ($failed) { Write-Warning "Not complete: $($failed -join ', '). Run again with the same -OutputDirectory to do only those." }
$missing = @()
if ($null -ne $script:datasetCount -and -not $failed) {
    $missing = @(0..($script:datasetCount - 1) | Where-Object { -not $seen.ContainsKey($_) })
}
[pscustomobject]@{
    OutputPath = if ($sorted) { $outputPath } else { $null }
    Images = $seen.Count
    Rows = $rows.Count
    ShardCount = $ShardCount
    Completed = @($complete).Count
    Skipped = @($skipped | ForEach-Object Key)
    Retried = @($outcome.Retried)
    Failed = @($failed)
    LostHosts = @($outcome.LostHosts)
    ImagesWithoutRows = $missing     # images of the data set with no rows (they could not be loaded), when known
    Duplicated = @($misplaced | Select-Object -Unique)
    Seconds = [Math]::Round($clock.Elapsed.TotalSeconds, 1)
}
