<#
.SYNOPSIS
    Shared plumbing of scripts/Invoke-DistributedExplanation.ps1 and scripts/Invoke-DistributedSweep.ps1 (dot-source
    it): sessions to hosts over SSH remoting, the torch thread count per session, and a work queue that runs one item
    per session at a time and reruns the item of a lost session on another one.
#>

# Sessions to -HostName (a host named twice gets two sessions), or the given ones.
function New-WorkerSession {
    param([string[]] $HostName, [int] $Port = 22, [string] $UserName, [string] $KeyFilePath, [hashtable] $SshOptions, [System.Management.Automation.Runspaces.PSSession[]] $Session)
    if ($Session) { return , @($Session) }
    $p = @{ ErrorAction = 'Stop' }
    if ($Port) { $p.Port = $Port }
    if ($UserName) { $p.UserName = $UserName }
    if ($KeyFilePath) { $p.KeyFilePath = $KeyFilePath }
    if ($SshOptions) { $p.Options = $SshOptions }
    , @(foreach ($h in $HostName) { New-PSSession -HostName $h @p })
}

<#
The sessions of a run, from the calling script's own parameters (pass its $PSBoundParameters): new ones to -HostName
(with -Port, -UserName, -KeyFilePath, -SshOptions), which the run owns and so closes at the end, or the caller's
-Session, which it leaves open. Returns Sessions and Own. The scripts still declare those parameters each: a param
block cannot be shared, and dynamic parameters would drop them from Get-Help's syntax.
#>
function Open-RunSession([Collections.Generic.IDictionary[string, object]] $BoundParameters) {
    $p = @{}
    foreach ($name in 'HostName', 'Port', 'UserName', 'KeyFilePath', 'SshOptions', 'Session') {
        if ($BoundParameters.ContainsKey($name)) { $p[$name] = $BoundParameters[$name] }
    }
    [pscustomobject]@{ Sessions = New-WorkerSession @p; Own = -not $BoundParameters.ContainsKey('Session') }
}

<#
Prepares every session: imports the module, reads the host's cores, sets torch threads to cores ÷ (this run's
sessions on that host), at least 1 (or -Threads), creates a remote work folder and copies -File into it
(Copy-Item -ToSession). Returns one worker per session that came up; a session that fails here is left out with a warning.
#>
function Initialize-Worker {
    param([System.Management.Automation.Runspaces.PSSession[]] $Session, [string] $Module, [string[]] $File, [int] $Threads, [string] $RunId)
    $perHost = $Session | Group-Object ComputerName -AsHashTable -AsString
    $workers = foreach ($s in $Session) {
        try {
            $info = Invoke-Command -Session $s -ErrorAction Stop -ArgumentList $Module, $RunId {
                param($module, $runId)
                $ErrorActionPreference = 'Stop'
                Import-Module $module
                $dir = Join-Path ([IO.Path]::GetTempPath()) "ptpn-work-$runId-$PID"
                New-Item -ItemType Directory -Force $dir | Out-Null
                [pscustomobject]@{ Cores = [Environment]::ProcessorCount; Directory = $dir; ProcessId = $PID }
            }
            $shared = @($perHost[$s.ComputerName]).Count
            $t = if ($Threads -gt 0) { $Threads } else { [Math]::Max(1, [Math]::Floor($info.Cores / $shared)) }
            if ($Threads -le 0 -and $shared -gt $info.Cores) {
                Write-Warning "$shared sessions share the $($info.Cores) cores of $($s.ComputerName): each gets 1 torch thread, and they still compete (oversubscribed torch processes slowed everything 10-100x in our measurements)."
            }
            Invoke-Command -Session $s -ErrorAction Stop -ArgumentList $t {
                param($t)
                # The module's own TorchSharp (loaded lazily by the cmdlets): load it by path, then set the threads.
                $bin = Split-Path (Get-Module ProtoPNet, ProtoPNet.PS | Select-Object -First 1).ImplementingAssembly.Location
                Add-Type -Path (Join-Path $bin 'TorchSharp.dll')
                [TorchSharp.torch]::set_num_threads($t)
            }
            $remote = @{}
            foreach ($f in $File) {
                $target = Join-Path $info.Directory (Split-Path -Leaf $f)
                Copy-Item -LiteralPath $f -Destination $target -ToSession $s -ErrorAction Stop
                $remote[$f] = $target
            }
            [pscustomobject]@{ Session = $s; Host = $s.ComputerName; Cores = $info.Cores; Threads = $t; Directory = $info.Directory
                ProcessId = $info.ProcessId; RemoteFile = $remote; Dead = $false; Job = $null; Item = $null; Started = $null }
        } catch {
            Write-Warning "Session $($s.Id) to $($s.ComputerName) could not be prepared and is left out: $($_.Exception.Message)"
        }
    }
    , @($workers)
}

<#
Runs every item of -Item on the workers, one at a time per worker: -Remote runs in the worker's session with the
arguments & $Arguments $item $worker returns, then & $OnDone $item $worker $output runs here (e.g. to copy the result
back). When a session breaks (or an item times out, or OnDone fails because the session went away) the item goes back
into the queue and runs on another worker, up to -MaxAttempts times. Bounded by -TimeoutSeconds in all.
Returns Retried (keys of items that ran more than once), Failed (keys that never succeeded) and LostHosts.
#>
function Invoke-WorkQueue {
    param(
        [object[]] $Worker, [object[]] $Item, [scriptblock] $Remote, [scriptblock] $Arguments, [scriptblock] $OnDone,
        [scriptblock] $OnStarted, [int] $MaxAttempts = 3, [double] $ItemTimeoutSeconds = 86400, [double] $TimeoutSeconds = 7 * 86400
    )
    $queue = [Collections.Generic.Queue[object]]::new()
    foreach ($i in $Item) { $queue.Enqueue($i) }
    $attempts = @{}; $retried = [Collections.Generic.List[object]]::new(); $failed = [Collections.Generic.List[object]]::new()
    $lost = [Collections.Generic.List[string]]::new()
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    function Lose($w, [string] $why) {
        if (-not $w.Dead) {
            $w.Dead = $true
            $lost.Add("$($w.Host) (session $($w.Session.Id))")
            Write-Warning "Lost session $($w.Session.Id) to $($w.Host): $why"
            Remove-PSSession $w.Session -ErrorAction Ignore
        }
    }
    function Requeue($item, [string] $why) {
        if ($attempts[$item.Key] -ge $MaxAttempts) {
            $failed.Add($item.Key)
            Write-Warning "Gave up on $($item.Key) after $($attempts[$item.Key]) attempts: $why"
        } else {
            if ($retried -notcontains $item.Key) { $retried.Add($item.Key) }
            $queue.Enqueue($item)
        }
    }
    while ($queue.Count -gt 0 -or @($Worker | Where-Object Job).Count -gt 0) {
        if ([DateTime]::UtcNow -gt $deadline) {
            foreach ($w in $Worker | Where-Object Job) { Stop-Job $w.Job; Remove-Job $w.Job -Force; $failed.Add($w.Item.Key); $w.Job = $null }
            while ($queue.Count -gt 0) { $failed.Add($queue.Dequeue().Key) }
            Write-Warning "Stopped after $TimeoutSeconds s."
            break
        }
        foreach ($w in $Worker) {
            if ($w.Dead -or $w.Job -or $queue.Count -eq 0) { continue }
            if ($w.Session.State -ne 'Opened') { Lose $w "the session is $($w.Session.State)."; continue }
            $next = $queue.Dequeue()
            $attempts[$next.Key] = 1 + [int]$attempts[$next.Key]
            $w.Item = $next; $w.Started = [DateTime]::UtcNow
            $w.Job = Invoke-Command -Session $w.Session -ScriptBlock $Remote -ArgumentList (& $Arguments $next $w) -AsJob
            if ($OnStarted) { & $OnStarted $next $w }
        }
        $busy = @($Worker | Where-Object Job)
        if ($busy.Count -eq 0) {
            if ($queue.Count -gt 0) {
                Write-Warning 'Every session is lost; the remaining items stay undone.'
                while ($queue.Count -gt 0) { $failed.Add($queue.Dequeue().Key) }
            }
            break
        }
        Wait-Job -Job $busy.Job -Any -Timeout 1 | Out-Null
        foreach ($w in $busy) {
            $job = $w.Job
            $overdue = ([DateTime]::UtcNow - $w.Started).TotalSeconds -gt $ItemTimeoutSeconds
            if ($job.State -notin 'Completed', 'Failed', 'Stopped' -and -not $overdue) { continue }
            $item = $w.Item
            $w.Job = $null; $w.Item = $null
            if ($overdue -and $job.State -notin 'Completed', 'Failed', 'Stopped') {
                Stop-Job $job; Remove-Job $job -Force
                Lose $w "$($item.Key) ran over $ItemTimeoutSeconds s."
                Requeue $item 'timed out'
                continue
            }
            $errors = $null
            $output = Receive-Job $job -ErrorVariable errors -ErrorAction SilentlyContinue
            Remove-Job $job -Force
            $done = $job.State -eq 'Completed' -and @($output | Where-Object { $_.PSObject.Properties['Done'] -and $_.Done }).Count -eq 1
            $why = if ($errors) { "$($errors[-1])" } else { "the job ended $($job.State)." }
            if ($done) {
                foreach ($e in @($errors)) { if ($e) { Write-Warning "$($item.Key) on $($w.Host): $e" } }
                try { & $OnDone $item $w ($output | Where-Object { $_.PSObject.Properties['Done'] }) }
                catch { $done = $false; $why = "collecting its output failed: $($_.Exception.Message)" }
            }
            if (-not $done) {
                if ($w.Session.State -ne 'Opened') { Lose $w $why }
                Requeue $item $why
            }
        }
    }
    [pscustomobject]@{ Retried = @($retried); Failed = @($failed); LostHosts = @($lost) }
}

# Copies a remote file to a local path atomically: to a temp name beside it, then renamed.
function Copy-FromWorker($Worker, [string] $RemotePath, [string] $LocalPath) {
    $tmp = "$LocalPath.$([guid]::NewGuid().ToString('N')).tmp"
    try {
        Copy-Item -LiteralPath $RemotePath -Destination $tmp -FromSession $Worker.Session -ErrorAction Stop
        Move-Item -LiteralPath $tmp -Destination $LocalPath -Force
    } finally { Remove-Item -LiteralPath $tmp -ErrorAction Ignore }
}

function Remove-Worker([object[]] $Worker, [switch] $KeepSession) {
    foreach ($w in $Worker) {
        if ($w.Dead -or $w.Session.State -ne 'Opened') { continue }
        Invoke-Command -Session $w.Session -ErrorAction Ignore -ArgumentList $w.Directory { param($d) Remove-Item $d -Recurse -Force -ErrorAction Ignore }
        if (-not $KeepSession) { Remove-PSSession $w.Session }
    }
}
