<#
.SYNOPSIS
    Trains one configuration per host over PowerShell remoting (SSH) and returns the best model by validation
    accuracy, or all of them joined into an ensemble (Join-ProtoPNet).
.DESCRIPTION
    Each configuration is a hashtable: Name, Model (parameters splatted into New-ProtoPNet; ClassName comes from the
    data set) and Training (splatted into Start-ProtoPNetTraining). Every host imports the data set with
    -DatasetParameters (Import-ProtoPNetDataset; the data must be at that path there) and splits it with
    Split-ProtoPNetDataset -ValidationFraction -Seed, the same split on every host; trains; measures the validation
    accuracy (Test-ProtoPNet); exports the model (atomically) and the file is copied back into -OutputDirectory
    (<Name>.ptpn). A configuration whose session breaks reruns on another session. A rerun skips configurations whose
    model file is already in -OutputDirectory (delete it to retrain).

    Threads: each session sets torch threads to its host's cores divided by the sessions this run opens there (at
    least 1), unless -Threads. Two torch processes with 2 threads each on 2 cores slowed everything 10-100x in our
    measurements: open no more sessions per host than it has cores.
.EXAMPLE
    $configs = 1..4 | ForEach-Object { @{ Name = "seed$_"; Model = @{ Backbone = 'smallcnn'; ImageSize = 28; Seed = $_ }; Training = @{ Epochs = 10; Seed = $_ } } }
    $r = ./scripts/Invoke-DistributedSweep.ps1 -HostName n1, n2, n3, n4 -KeyFilePath ~/.ssh/id_ed25519 -Configuration $configs `
        -DatasetParameters @{ Path = '/data/fashion'; Format = 'Idx'; Split = 'Train' } -OutputDirectory ./sweep -Join
    $r.Results | Sort-Object ValidationAccuracy -Descending; $r.Ensemble | Test-ProtoPNet -Dataset $test
.OUTPUTS
    Model (the best), Models (all, imported here), Ensemble (with -Join), Results (Name, ValidationAccuracy, Path, Host), Retried, Failed, LostHosts, Seconds.
#>
[CmdletBinding(DefaultParameterSetName = 'Host')]
param(
    [Parameter(Mandatory, ParameterSetName = 'Host')] [string[]] $HostName,
    [Parameter(ParameterSetName = 'Host')] [int] $Port = 22,
    [Parameter(ParameterSetName = 'Host')] [string] $UserName,
    [Parameter(ParameterSetName = 'Host')] [string] $KeyFilePath,
    [Parameter(ParameterSetName = 'Host')] [hashtable] $SshOptions,
    [Parameter(Mandatory, ParameterSetName = 'Session')] [System.Management.Automation.Runspaces.PSSession[]] $Session,
    [Parameter(Mandatory)] [hashtable[]] $Configuration,
    [Parameter(Mandatory)] [hashtable] $DatasetParameters,
    [double] $ValidationFraction = 0.1,
    [int] $SplitSeed = 1,
    [Parameter(Mandatory)] [string] $OutputDirectory,
    # Also return all models joined into one ensemble.
    [switch] $Join,
    [int] $Threads,
    [string] $Module = 'ProtoPNet.PS',
    [int] $MaxAttempts = 3,
    [double] $ItemTimeoutSeconds = 7 * 86400,
    [double] $TimeoutSeconds = 7 * 86400
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'DistributedWork.ps1')
$clock = [Diagnostics.Stopwatch]::StartNew()
New-Item -ItemType Directory -Force $OutputDirectory | Out-Null
$OutputDirectory = (Resolve-Path -LiteralPath $OutputDirectory).Path
$names = $Configuration | ForEach-Object { $_.Name }
if (@($names | Select-Object -Unique).Count -ne $Configuration.Count -or @($names | Where-Object { -not $_ }).Count) { throw 'Every configuration needs a Name of its own.' }

$runSessions = Open-RunSession $PSBoundParameters
$items = foreach ($c in $Configuration) { [pscustomobject]@{ Key = $c.Name; Configuration = $c; Path = (Join-Path $OutputDirectory "$($c.Name).ptpn") } }
$todo = @($items | Where-Object { -not (Test-Path $_.Path) })
$accuracyFile = Join-Path $OutputDirectory 'validation.csv'
$known = @{}
if (Test-Path $accuracyFile) { Import-Csv $accuracyFile | ForEach-Object { $known[$_.Name] = $_ } }

$outcome = [pscustomobject]@{ Retried = @(); Failed = @(); LostHosts = @() }
$workers = @()
try {
    if ($todo) {
        $workers = Initialize-Worker -Session $runSessions.Sessions -Module $Module -Threads $Threads -RunId ([guid]::NewGuid().ToString('N').Substring(0, 8))
        if (-not $workers) { throw 'No session could be prepared.' }
        $remote = {
            param($config, $dataset, $fraction, $seed, $dir)
            $ErrorActionPreference = 'Stop'
            $all = Import-ProtoPNetDataset @dataset
            $train, $validation = $all | Split-ProtoPNetDataset -ValidationFraction $fraction -Seed $seed
            $newParameters = $config.Model
            $trainParameters = $config.Training
            $model = New-ProtoPNet @newParameters -ClassName $all.ClassNames -Name $config.Name
            $model = $model | Start-ProtoPNetTraining -Dataset $train -ValidationDataset $validation @trainParameters -PassThru -InformationAction Ignore
            $accuracy = ($model | Test-ProtoPNet -Dataset $validation).Accuracy
            $path = Join-Path $dir "$($config.Name).ptpn"
            $model | Export-ProtoPNet $path -Force    # written atomically
            [pscustomobject]@{ Done = $true; Path = $path; ValidationAccuracy = $accuracy }
        }
        $outcome = Invoke-WorkQueue -Worker $workers -Item $todo -Remote $remote -MaxAttempts $MaxAttempts `
            -ItemTimeoutSeconds $ItemTimeoutSeconds -TimeoutSeconds $TimeoutSeconds `
            -Arguments { param($item, $w) , @($item.Configuration, $DatasetParameters, $ValidationFraction, $SplitSeed, $w.Directory) } `
            -OnDone {
                param($item, $w, $out)
                Copy-FromWorker $w $out.Path $item.Path
                $known[$item.Key] = [pscustomobject]@{ Name = $item.Key; ValidationAccuracy = $out.ValidationAccuracy; Host = $w.Host }
                $known.Values | Sort-Object Name | Export-Csv $accuracyFile
            }
    }
} finally {
    Remove-Worker $workers -KeepSession:(-not $runSessions.Own)
}

$results = foreach ($item in $items | Where-Object { Test-Path $_.Path }) {
    $acc = if ($known.ContainsKey($item.Key)) { [double]$known[$item.Key].ValidationAccuracy } else { [double]::NaN }
    [pscustomobject]@{ Name = $item.Key; ValidationAccuracy = $acc; Path = $item.Path; Host = if ($known.ContainsKey($item.Key)) { $known[$item.Key].Host } else { '' } }
}
$models = @(foreach ($r in $results) { Import-ProtoPNet -LiteralPath $r.Path })
$best = $results | Sort-Object ValidationAccuracy -Descending | Select-Object -First 1
[pscustomobject]@{
    Model = if ($best) { $models | Where-Object Name -EQ $best.Name | Select-Object -First 1 } else { $null }
    Models = $models
    Ensemble = if ($Join -and $models.Count -ge 2) { Join-ProtoPNet $models } else { $null }
    Results = @($results)
    Retried = @($outcome.Retried)
    Failed = @($items | Where-Object { -not (Test-Path $_.Path) } | ForEach-Object Key)
    LostHosts = @($outcome.LostHosts)
    Seconds = [Math]::Round($clock.Elapsed.TotalSeconds, 1)
}
