<#
.SYNOPSIS
    An OpenSSH server on 127.0.0.1 for the remoting tests: its own port, host key, client key and sshd_config in a
    temp folder, key authentication only, and the 'powershell' subsystem pointing at the PowerShell that runs this
    (the dotnet-tool pwsh, through a small wrapper that calls 'dotnet <PSHOME>/pwsh.dll').
.DESCRIPTION
    Dot-source, then: $ssh = Start-LoopbackSshd; ...; Stop-LoopbackSshd $ssh.
    Start-LoopbackSshd returns $null and a reason (Write-Warning) when it cannot run a server: no sshd binary (and not
    root with apt-get to install Debian's openssh-server), or the server does not come up. Its result also goes into
    the environment (PTPN_SSH_PORT, PTPN_SSH_USER, PTPN_SSH_KEY, PTPN_SSH_DIR) for child processes, e.g. Pester.
#>

function Start-LoopbackSshd {
    [CmdletBinding()]
    param([int] $TimeoutSeconds = 20)
    Set-StrictMode -Off    # callers (build.ps1) may run strict; this function's scope only
    $found = Get-Command sshd -ErrorAction Ignore
    $sshd = @('/usr/sbin/sshd', $(if ($found) { $found.Source })) | Where-Object { $_ -and (Test-Path $_) } | Select-Object -First 1
    if (-not $sshd -and $IsLinux -and (id -u) -eq '0' -and (Get-Command apt-get -ErrorAction Ignore)) {
        Write-Host 'Installing openssh-server (apt-get) for the remoting tests.'
        apt-get update -qq *> $null
        $env:DEBIAN_FRONTEND = 'noninteractive'
        apt-get install -y -qq openssh-server *> $null
        $sshd = '/usr/sbin/sshd'
    }
    if (-not $sshd -or -not (Test-Path $sshd)) { Write-Warning 'No OpenSSH server (sshd) on this machine, and it could not be installed (needs root and apt-get).'; return $null }
    if (-not (Get-Command ssh -ErrorAction Ignore)) { Write-Warning 'No ssh client on this machine.'; return $null }

    $dir = Join-Path ([IO.Path]::GetTempPath()) "ptpn-sshd-$([guid]::NewGuid().ToString('N').Substring(0, 12))"
    New-Item -ItemType Directory $dir | Out-Null
    chmod 700 $dir
    ssh-keygen -q -t ed25519 -N '' -f (Join-Path $dir 'host_key') | Out-Null
    ssh-keygen -q -t ed25519 -N '' -f (Join-Path $dir 'client_key') | Out-Null
    Copy-Item (Join-Path $dir 'client_key.pub') (Join-Path $dir 'authorized_keys')
    chmod 600 (Join-Path $dir 'authorized_keys') (Join-Path $dir 'host_key') (Join-Path $dir 'client_key')

    # The subsystem runs the PowerShell that runs this script: dotnet + pwsh.dll of the tool package.
    $dotnet = [Environment]::ProcessPath
    $pwshDll = Join-Path $PSHOME 'pwsh.dll'
    $wrapper = Join-Path $dir 'pwsh-sshs'
    $dotnetRoot = if ($env:DOTNET_ROOT) { $env:DOTNET_ROOT } else { Split-Path $dotnet }
    $lines = @('#!/bin/sh', "export DOTNET_ROOT='$dotnetRoot'", "export PATH='$(Split-Path $dotnet):/usr/local/bin:/usr/bin:/bin'")
    if ((Split-Path -Leaf $dotnet) -like 'dotnet*') { $lines += "exec '$dotnet' '$pwshDll' `"`$@`"" }
    else { $lines += "exec '$dotnet' `"`$@`"" }   # a self-contained pwsh
    Set-Content $wrapper ($lines -join "`n")
    chmod 755 $wrapper

    # A free loopback port: bind to 0, read it, release it.
    $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
    $listener.Start(); $port = $listener.LocalEndpoint.Port; $listener.Stop()

    $user = [Environment]::UserName
    $config = Join-Path $dir 'sshd_config'
    @"
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers $user
StrictModes no
UsePAM no
MaxSessions 20
MaxStartups 20
Subsystem powershell $wrapper -sshs -NoLogo
"@ | Set-Content $config
    # Privilege separation needs this directory (Debian's sshd, started outside systemd).
    if (-not (Test-Path '/run/sshd') -and (id -u) -eq '0') { New-Item -ItemType Directory '/run/sshd' -Force | Out-Null; chmod 755 /run/sshd }
    & $sshd -t -f $config 2> (Join-Path $dir 'config-check.log')
    if ($LASTEXITCODE -ne 0) { Write-Warning "sshd rejects its configuration: $(Get-Content -Raw (Join-Path $dir 'config-check.log'))"; Remove-Item $dir -Recurse -Force; return $null }
    & $sshd -f $config -E (Join-Path $dir 'sshd.log')
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    $up = $false
    while (-not $up -and [DateTime]::UtcNow -lt $deadline) {
        Start-Sleep -Milliseconds 200
        $client = [Net.Sockets.TcpClient]::new()
        try { $client.Connect('127.0.0.1', $port); $up = $true } catch { } finally { $client.Dispose() }
    }
    $server = [pscustomobject]@{ Port = $port; User = $user; KeyFile = (Join-Path $dir 'client_key'); Directory = $dir; PidFile = (Join-Path $dir 'sshd.pid') }
    if (-not $up) {
        Write-Warning "sshd did not listen on 127.0.0.1:$port within $TimeoutSeconds s: $(Get-Content -Raw (Join-Path $dir 'sshd.log') -ErrorAction Ignore)"
        Stop-LoopbackSshd $server
        return $null
    }
    $env:PTPN_SSH_PORT = $port; $env:PTPN_SSH_USER = $user; $env:PTPN_SSH_KEY = $server.KeyFile; $env:PTPN_SSH_DIR = $dir
    $server
}

function Stop-LoopbackSshd($Server) {
    Set-StrictMode -Off
    if (-not $Server) { return }
    if (Test-Path $Server.PidFile) {
        $id = [int](Get-Content $Server.PidFile -TotalCount 1)
        Stop-Process -Id $id -ErrorAction Ignore     # the listener only; sessions' own sshd processes end with their clients
    }
    Remove-Item $Server.Directory -Recurse -Force -ErrorAction Ignore
    foreach ($name in 'PTPN_SSH_PORT', 'PTPN_SSH_USER', 'PTPN_SSH_KEY', 'PTPN_SSH_DIR') { Remove-Item "env:$name" -ErrorAction Ignore }
}

# Options for New-PSSession against this server: a fresh host key every run, so no known_hosts.
function Get-LoopbackSessionParameters {
    @{
        HostName    = '127.0.0.1'
        Port        = [int]$env:PTPN_SSH_PORT
        UserName    = $env:PTPN_SSH_USER
        KeyFilePath = $env:PTPN_SSH_KEY
        Options     = @{ StrictHostKeyChecking = 'no'; UserKnownHostsFile = '/dev/null'; LogLevel = 'ERROR' }
    }
}
