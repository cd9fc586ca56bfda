BeforeAll {
    $script:manifest = Join-Path $PSScriptRoot '../../ProtoPNet.psd1'
    Import-Module $script:manifest -Force
}

Describe 'The module' {
    It 'exports exactly the cmdlets its manifest lists, and each one exists' {
        $declared = (Import-PowerShellDataFile $script:manifest).CmdletsToExport | Sort-Object
        $exported = (Get-Command -Module ProtoPNet -CommandType Cmdlet).Name | Sort-Object
        $exported | Should -Be $declared
    }

    It 'completes backbone names for -Backbone' {
        $r = TabExpansion2 -inputScript 'New-ProtoPNet -Backbone small' -cursorColumn 'New-ProtoPNet -Backbone small'.Length
        $r.CompletionMatches.CompletionText | Should -Contain 'smallcnn'
    }

    It 'shows a model with its backbone, classes, prototypes and parameter count' {
        $m = New-ProtoPNet -Backbone smallcnn -ClassCount 3 -ImageSize 28 -PrototypesPerClass 2
        $text = $m | Out-String
        $text | Should -Match 'Backbone\s*:\s*smallcnn'
        $text | Should -Match 'PrototypeCount\s*:\s*6'
        $text | Should -Match 'TrainableParameterCount\s*:\s*[\d,]+'
    }
}
