# Sharding (no ssh needed) and fan-out over real SSH remoting sessions to 127.0.0.1. The SSH server is started by
# build.ps1 -Task Test (tests/pester/LoopbackSshd.ps1; PTPN_SSH_* in the environment) or, when run alone, here.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'LoopbackSshd.ps1')
    # Started here only when build.ps1 did not; PTPN_SSH_OWNED tells AfterAll (the run phase) to stop it.
    if (-not $env:PTPN_SSH_PORT -and (Start-LoopbackSshd)) { $env:PTPN_SSH_OWNED = '1' }
    $script:noSsh = if ($env:PTPN_SSH_PORT) { $null } else { 'no OpenSSH server on 127.0.0.1 could be started (see the warning above)' }
    if ($noSsh) { Write-Host "Remoting tests skipped: $noSsh." }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'LoopbackSshd.ps1')
    $script:repo = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:manifest = Join-Path $repo 'ProtoPNet.psd1'
    Import-Module $manifest -Force
    Add-Type -Path (Join-Path $repo 'bin/TorchSharp.dll')
    # This process keeps torch's thread count: changing it here changed the rounding of later test files' forward
    # passes (Explanation.Tests' ForEach-Object -Parallel comparison). Work at the remote sessions' 1 thread runs in a
    # child pwsh or in a session.
    $script:work = Join-Path ([IO.Path]::GetTempPath()) "ptpn-dist-$([guid]::NewGuid().ToString('N'))"
    New-Item -ItemType Directory $work | Out-Null
    $script:sample = Join-Path $repo 'data/fashion-mnist-sample'
    $script:test = Import-ProtoPNetDataset $sample -Format Idx -Split Test
    $script:model = New-ProtoPNet -Backbone smallcnn -ClassName $test.ClassNames -ImageSize 28 -PrototypesPerClass 2 -Seed 7 -Name dist

    # The remote runs use a small generated image folder (3 classes × 16 PNGs of random 4-px blocks): sessions, not
    # images, are what these tests are about.
    Add-Type -Path (Join-Path $repo 'bin/SixLabors.ImageSharp.dll')
    $script:folder = Join-Path $work 'images'
    $rng = [Random]::new(11)
    foreach ($class in 'a', 'b', 'c') {
        New-Item -ItemType Directory (Join-Path $folder $class) | Out-Null
        foreach ($j in 1..16) {
            $img = [SixLabors.ImageSharp.Image[SixLabors.ImageSharp.PixelFormats.Rgb24]]::new(28, 28)
            for ($by = 0; $by -lt 28; $by += 4) {
                for ($bx = 0; $bx -lt 28; $bx += 4) {
                    $c = [SixLabors.ImageSharp.PixelFormats.Rgb24]::new($rng.Next(256), $rng.Next(256), $rng.Next(256))
                    for ($y = $by; $y -lt $by + 4; $y++) { for ($x = $bx; $x -lt $bx + 4; $x++) { $img[$x, $y] = $c } }
                }
            }
            [SixLabors.ImageSharp.ImageExtensions]::SaveAsPng($img, (Join-Path $folder "$class/$j.png"))
            $img.Dispose()
        }
    }
    $script:datasetParameters = @{ Path = $folder; Format = 'ImageFolder' }
    $script:small = Import-ProtoPNetDataset @datasetParameters
    $script:modelFile = Join-Path $work 'model.ptpn'
    New-ProtoPNet -Backbone smallcnn -ClassName $small.ClassNames -ImageSize 28 -PrototypesPerClass 2 -Seed 7 -Name dist | Export-ProtoPNet $modelFile
    function New-LoopbackSession([int] $Count) {
        $p = Get-LoopbackSessionParameters
        @(1..$Count | ForEach-Object { New-PSSession @p -ErrorAction Stop })
    }
}

AfterAll {
    Get-PSSession | Remove-PSSession -ErrorAction Ignore
    Remove-Item $work -Recurse -Force -ErrorAction Ignore
    if ($env:PTPN_SSH_OWNED) {
        Stop-LoopbackSshd ([pscustomobject]@{ Directory = $env:PTPN_SSH_DIR; PidFile = Join-Path $env:PTPN_SSH_DIR 'sshd.pid' })
        Remove-Item env:PTPN_SSH_OWNED
    }
}

Describe 'Shards' {
    It 'are disjoint and cover <Name> for n = <N>' -ForEach @(
        @{ Name = 'the test split'; N = 1 }, @{ Name = 'the test split'; N = 3 }, @{ Name = 'the test split'; N = 7 },
        @{ Name = 'a 10-image subset'; N = 4 }, @{ Name = 'a 10-image subset'; N = 16 }
    ) {
        $data = if ($Name -eq 'a 10-image subset') { [ProtoPNet.Data.SubsetDataset]::new($test, [int[]](5..14), 'Test') } else { $test }
        $indices = foreach ($k in 0..($N - 1)) { , [ProtoPNet.Data.DatasetShard]::Indices($data.Count, $k, $N) }
        $all = @($indices | ForEach-Object { $_ }) | Sort-Object
        $all | Should -Be (0..($data.Count - 1))
        if ($data.Count -le 50) {
            # Through the cmdlet: each image's rows carry its index in the data set, in its own shard only.
            $rows = foreach ($k in 0..($N - 1)) { Get-Explanation -Dataset $data -Model $model -Top 1 -ShardIndex $k -ShardCount $N }
            ($rows.ImageIndex | Sort-Object) | Should -Be (0..($data.Count - 1))
        }
    }

    It 'merge Test-ProtoPNet results into the one-process result' {
        $whole = $model | Test-ProtoPNet -Dataset $test -BatchSize 1
        $parts = 0..2 | ForEach-Object { $model | Test-ProtoPNet -Dataset $test -ShardIndex $_ -ShardCount 3 -BatchSize 1 }
        $merged = $parts | Merge-ProtoPNetTestResult -Complete
        $merged.Count | Should -Be $whole.Count
        $merged.Accuracy | Should -Be $whole.Accuracy
        @($merged.Confusion) | Should -Be @($whole.Confusion)
        { $parts[0, 1] | Merge-ProtoPNetTestResult -Complete -ErrorAction Stop } | Should -Throw -ErrorId 'ShardsMissing,ProtoPNet.PowerShell.MergeProtoPNetTestResultCommand'
    }
}

Describe 'Fan-out over SSH remoting to 127.0.0.1' -Skip:([bool]$noSsh) {
    BeforeAll {
        # The one-process rows, at the remote runs' settings: 1 torch thread, one image per forward pass (batched
        # convolutions may round differently for other batch compositions, and log-similarity amplifies that).
        $script:oneCsv = Join-Path $work 'one.csv'
        $child = if ((Split-Path -Leaf ([Environment]::ProcessPath)) -like 'dotnet*') { @([Environment]::ProcessPath, (Join-Path $PSHOME 'pwsh.dll')) } else { @([Environment]::ProcessPath) }
        $exe = $child[0]; $first = @($child | Select-Object -Skip 1)
        $log = & $exe @first -NoProfile -NonInteractive -Command @"
`$ErrorActionPreference = 'Stop'
Import-Module '$manifest'
Add-Type -Path '$(Join-Path $repo 'bin/TorchSharp.dll')'
[TorchSharp.torch]::set_num_threads(1)
Get-Explanation -Dataset (Import-ProtoPNetDataset -Path '$folder' -Format ImageFolder) -Model (Import-ProtoPNet '$modelFile') -Top 2 -BatchSize 1 | Export-Csv '$oneCsv'
"@ 2>&1 | Where-Object { "$_" -notmatch 'NNPACK' } | Out-String
        if ($LASTEXITCODE -ne 0) { throw "The one-process explanation failed (exit code $LASTEXITCODE): $log" }
        $script:common = @{ ModelPath = $modelFile; DatasetParameters = $datasetParameters; Top = 2; BatchSize = 1; Module = $manifest; TimeoutSeconds = 600; ShardTimeoutSeconds = 300 }
    }

    It 'merges two sessions'' shards into the one-process CSV, byte for byte, and a rerun skips complete shards' {
        $sessions = New-LoopbackSession 2
        try {
            $out = Join-Path $work 'two'
            $r = & (Join-Path $repo 'scripts/Invoke-DistributedExplanation.ps1') -Session $sessions -OutputDirectory $out @common
            $r.Failed | Should -BeNullOrEmpty
            $r.Images | Should -Be $small.Count
            $r.Duplicated | Should -BeNullOrEmpty
            $r.ImagesWithoutRows | Should -BeNullOrEmpty
            (Get-FileHash $r.OutputPath).Hash | Should -Be (Get-FileHash $oneCsv).Hash
            # The threads default: cores ÷ sessions on the host (2 sessions here).
            $again = & (Join-Path $repo 'scripts/Invoke-DistributedExplanation.ps1') -Session $sessions -OutputDirectory $out @common
            $again.Skipped | Should -Be 'shard 0/2', 'shard 1/2'
            (Get-FileHash $again.OutputPath).Hash | Should -Be (Get-FileHash $oneCsv).Hash
            # Test-ProtoPNet shards on the two sessions; their deserialized results merge into the one-process result.
            $parts = foreach ($k in 0, 1) {
                Invoke-Command -Session $sessions[$k] -ArgumentList $modelFile, $datasetParameters, $k {
                    param($file, $dataset, $k)
                    Import-ProtoPNet $file | Test-ProtoPNet -Dataset (Import-ProtoPNetDataset @dataset) -ShardIndex $k -ShardCount 2 -BatchSize 1
                }
            }
            $parts[0].PSObject.TypeNames[0] | Should -BeLike 'Deserialized.*'
            $merged = $parts | Merge-ProtoPNetTestResult -Complete
            $whole = Invoke-Command -Session $sessions[0] -ArgumentList $modelFile, $datasetParameters {
                param($file, $dataset)
                Import-ProtoPNet $file | Test-ProtoPNet -Dataset (Import-ProtoPNetDataset @dataset) -BatchSize 1    # one process, 1 thread
            }
            $merged.Count | Should -Be $whole.Count
            @($merged.Confusion) | Should -Be @($whole.Confusion)
            $merged.Accuracy | Should -Be $whole.Accuracy
        } finally { $sessions | Remove-PSSession -ErrorAction Ignore }
    }

    It 'reruns the shard of a session killed mid-shard on another session: every image exactly once' {
        $sessions = New-LoopbackSession 3
        try {
            # The remote pwsh behind the second session (loopback: a local process) dies once its first shard started.
            $victim = $sessions[1]
            $victimPid = Invoke-Command -Session $victim { $PID }
            $script:killed = $false
            $kill = {
                param($shard, $worker)
                if (-not $script:killed -and $worker.Session.Id -eq $victim.Id) {
                    Stop-Process -Id $victimPid -Force    # right after the shard was sent: it cannot have finished
                    $script:killed = $true
                }
            }.GetNewClosure()
            $out = Join-Path $work 'killed'
            $r = & (Join-Path $repo 'scripts/Invoke-DistributedExplanation.ps1') -Session $sessions -OutputDirectory $out -ShardCount 4 -OnShardStarted $kill @common 3>&1 |
                Where-Object { $_ -isnot [System.Management.Automation.WarningRecord] }
            $r.Retried | Should -Not -BeNullOrEmpty
            $r.LostHosts.Count | Should -Be 1
            $r.Failed | Should -BeNullOrEmpty
            $r.Duplicated | Should -BeNullOrEmpty
            $ids = (Import-Csv $r.OutputPath).ImageIndex | ForEach-Object { [int]$_ } | Sort-Object -Unique
            $ids | Should -Be (0..($small.Count - 1))
            (Import-Csv $r.OutputPath).Count | Should -Be (2 * $small.Count)
            (Get-FileHash $r.OutputPath).Hash | Should -Be (Get-FileHash $oneCsv).Hash
        } finally {
            $sessions | Remove-PSSession -ErrorAction Ignore
            # The killed session could not clean its remote work folder (loopback: it is here).
            Get-ChildItem ([IO.Path]::GetTempPath()) -Directory -Filter "ptpn-work-*-$victimPid" | Remove-Item -Recurse -Force -ErrorAction Ignore
        }
    }

    It 'trains one configuration per session and returns models Join-ProtoPNet accepts' {
        $sessions = New-LoopbackSession 2
        try {
            $configs = @(
                @{ Name = 'seed1'; Model = @{ Backbone = 'smallcnn'; ImageSize = 28; PrototypesPerClass = 1; Seed = 1 }; Training = @{ WarmEpochs = 0; Epochs = 1; BatchSize = 8; Seed = 1 } }
                @{ Name = 'seed2'; Model = @{ Backbone = 'smallcnn'; ImageSize = 28; PrototypesPerClass = 1; Seed = 2 }; Training = @{ WarmEpochs = 0; Epochs = 1; BatchSize = 8; Seed = 2 } }
            )
            $sweep = & (Join-Path $repo 'scripts/Invoke-DistributedSweep.ps1') -Session $sessions -Configuration $configs -DatasetParameters $datasetParameters `
                -ValidationFraction 0.5 -OutputDirectory (Join-Path $work 'sweep') -Module $manifest -Join -TimeoutSeconds 600
            $sweep.Results.Count | Should -Be 2
            $sweep.Results.ValidationAccuracy | ForEach-Object { $_ | Should -BeGreaterOrEqual 0 }
            $sweep.Ensemble.Members.Count | Should -Be 2
            $ensemble = Join-ProtoPNet $sweep.Models
            $ensemble.Members.Count | Should -Be 2
            ($ensemble | Test-ProtoPNet -Dataset $small).Count | Should -Be $small.Count
            $best = & (Join-Path $repo 'scripts/Invoke-DistributedSweep.ps1') -Session $sessions -Configuration $configs -DatasetParameters $datasetParameters `
                -ValidationFraction 0.5 -OutputDirectory (Join-Path $work 'sweep') -Module $manifest -TimeoutSeconds 600
            $best.Model.Name | Should -Be (($sweep.Results | Sort-Object ValidationAccuracy -Descending)[0].Name)
        } finally { $sessions | Remove-PSSession -ErrorAction Ignore }
    }
}
