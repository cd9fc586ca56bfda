<#
.SYNOPSIS
    Writes the module's MAML help (en-US/ProtoPNet.PowerShell.dll-Help.xml) from module/help/*.psd1 and the
    cmdlets' own parameter metadata, and copies about_ProtoPNet. Run by build.ps1 after the module is laid out.
.DESCRIPTION
    Help text lives in one small data file per cmdlet (Synopsis, Description, Parameters, Examples, Notes);
    parameter names, types, positions and pipeline input come from the compiled cmdlet, so help cannot drift
    from the code. A parameter the data file does not describe gets the <summary> of its property in the
    cmdlet's source (the assembly's XML documentation). A cmdlet without a help file is warned about (and fails the module's Pester test); a help file naming a parameter the cmdlet lacks, fails the build.
#>
param(
    [Parameter(Mandatory)] [string] $ModuleManifest,
    [Parameter(Mandatory)] [string] $HelpSource,
    [Parameter(Mandatory)] [string] $Destination
)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleManifest -Force
$module = Get-Module ProtoPNet
$common = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters

function Esc([string] $s) { [Security.SecurityElement]::Escape($s) }
function Para([string] $text) {
    ($text -split "`n`n" | ForEach-Object { "<maml:para>$(Esc $_.Trim())</maml:para>" }) -join ''
}

# <summary> texts of the cmdlet classes' properties, keyed "P:Namespace.Class.Property".
$docs = @{}
$docFile = Join-Path $module.ModuleBase 'bin/ProtoPNet.PowerShell.xml'
if (Test-Path $docFile) {
    foreach ($member in ([xml](Get-Content -Raw $docFile)).doc.members.member) {
        # A summary with no child elements comes back as a string, one with <c> or <see> as an element.
        $summary = if ($member.summary -is [string]) { $member.summary } else { $member.summary.InnerText }
        if ($summary) { $docs[$member.name] = ($summary -replace '\s+', ' ').Trim() }
    }
}

$sb = [Text.StringBuilder]::new()
[void]$sb.Append('<?xml version="1.0" encoding="utf-8"?><helpItems schema="maml" xmlns="http://msh" xmlns:maml="http://schemas.microsoft.com/maml/2004/10" xmlns:command="http://schemas.microsoft.com/maml/dev/command/2004/10" xmlns:dev="http://schemas.microsoft.com/maml/dev/2004/10">')
foreach ($cmd in Get-Command -Module ProtoPNet -CommandType Cmdlet | Sort-Object Name) {
    $file = Join-Path $HelpSource "$($cmd.Name).psd1"
    if (-not (Test-Path $file)) { Write-Warning "No help source for $($cmd.Name): expected $file."; continue }
    $h = Import-PowerShellDataFile $file
    $params = $cmd.Parameters.Values | Where-Object { $_.Name -notin $common }
    foreach ($name in $h.Parameters.Keys) {
        if ($name -notin $params.Name) { throw "$file documents -$name, which $($cmd.Name) does not have." }
    }
    $verb, $noun = $cmd.Name -split '-', 2
    [void]$sb.Append("<command:command><command:details><command:name>$($cmd.Name)</command:name><maml:description>$(Para $h.Synopsis)</maml:description><command:verb>$verb</command:verb><command:noun>$noun</command:noun></command:details>")
    [void]$sb.Append("<maml:description>$(Para $h.Description)</maml:description><command:syntax>")
    foreach ($set in $cmd.ParameterSets) {
        [void]$sb.Append("<command:syntaxItem><maml:name>$($cmd.Name)</maml:name>")
        foreach ($p in $set.Parameters | Where-Object { $_.Name -notin $common }) {
            $pos = if ($p.Position -ge 0) { $p.Position + 1 } else { 'named' }
            [void]$sb.Append("<command:parameter required=`"$($p.IsMandatory.ToString().ToLower())`" position=`"$pos`"><maml:name>$($p.Name)</maml:name>")
            if ($p.ParameterType -ne [switch]) { [void]$sb.Append("<command:parameterValue required=`"true`">$(Esc $p.ParameterType.Name)</command:parameterValue>") }
            [void]$sb.Append('</command:parameter>')
        }
        [void]$sb.Append('</command:syntaxItem>')
    }
    [void]$sb.Append('</command:syntax><command:parameters>')
    foreach ($p in $params) {
        $attr = $p.ParameterSets.Values | Select-Object -First 1
        $pipeline = @(if ($attr.ValueFromPipeline) { 'ByValue' }; if ($attr.ValueFromPipelineByPropertyName) { 'ByPropertyName' })
        $pipeText = if ($pipeline) { "true ($($pipeline -join ', '))" } else { 'false' }
        $pos = if ($attr.Position -ge 0) { $attr.Position + 1 } else { 'named' }
        $text = if ($h.Parameters -and $h.Parameters.ContainsKey($p.Name)) { $h.Parameters[$p.Name] }
                elseif ($docs["P:$($cmd.ImplementingType.FullName).$($p.Name)"]) { $docs["P:$($cmd.ImplementingType.FullName).$($p.Name)"] }
                else { '' }
        [void]$sb.Append("<command:parameter required=`"$($attr.IsMandatory.ToString().ToLower())`" pipelineInput=`"$pipeText`" position=`"$pos`" aliases=`"$(($p.Aliases) -join ', ')`"><maml:name>$($p.Name)</maml:name><maml:description>$(Para $text)</maml:description><command:parameterValue required=`"true`">$(Esc $p.ParameterType.Name)</command:parameterValue><dev:type><maml:name>$(Esc $p.ParameterType.FullName)</maml:name></dev:type></command:parameter>")
    }
    [void]$sb.Append('</command:parameters><command:returnValues>')
    foreach ($t in $cmd.OutputType) { [void]$sb.Append("<command:returnValue><dev:type><maml:name>$(Esc $t.Name)</maml:name></dev:type></command:returnValue>") }
    [void]$sb.Append('</command:returnValues>')
    if ($h.Notes) { [void]$sb.Append("<maml:alertSet><maml:alert>$(Para $h.Notes)</maml:alert></maml:alertSet>") }
    [void]$sb.Append('<command:examples>')
    $i = 0
    foreach ($ex in $h.Examples) {
        $i++
        [void]$sb.Append("<command:example><maml:title>--------- Example $i ---------</maml:title><dev:code>$(Esc $ex.Code.Trim())</dev:code><dev:remarks>$(Para $ex.Remarks)</dev:remarks></command:example>")
    }
    [void]$sb.Append('</command:examples><command:relatedLinks><maml:navigationLink><maml:linkText>about_ProtoPNet</maml:linkText></maml:navigationLink></command:relatedLinks></command:command>')
}
[void]$sb.Append('</helpItems>')
New-Item -ItemType Directory -Force $Destination | Out-Null
Set-Content -LiteralPath (Join-Path $Destination 'ProtoPNet.PowerShell.dll-Help.xml') -Value $sb.ToString() -Encoding utf8NoBOM
Copy-Item (Join-Path $HelpSource 'about_*.help.txt') $Destination -Force
