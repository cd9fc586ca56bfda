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

Describe 'Help' {
    It 'gives every exported cmdlet a synopsis and at least one example' {
        foreach ($name in (Import-PowerShellDataFile $script:manifest).CmdletsToExport) {
            $help = Get-Help $name -Full
            $help.Synopsis | Should -Not -BeNullOrEmpty -Because "$name needs a synopsis"
            $help.Synopsis | Should -Not -Match "^\s*$name\s*\[" -Because "$name's help must not be the bare syntax"
            @($help.examples.example).Count | Should -BeGreaterThan 0 -Because "$name needs an example"
        }
    }

    It 'shows examples with Get-Help -Examples' {
        (Get-Help New-ProtoPNet -Examples | Out-String) | Should -Match 'New-ProtoPNet -Backbone resnet34 -ClassCount 200'
    }

    It 'has the about_ProtoPNet topic' {
        (Get-Help about_ProtoPNet | Out-String) | Should -Match 'This Looks Like That'
    }
}

Describe 'Parameter help' {
    It 'takes a parameter''s description from the cmdlet''s doc comment when the help file has none' {
        (Get-Help Start-ProtoPNetTraining -Parameter ValidationDataset | Out-String) | Should -Match 'Never pass the test set'
    }
}

Describe 'About topics' {
    It 'has the about_ProtoPNet_Datasets topic' {
        (Get-Help about_ProtoPNet_Datasets | Out-String) | Should -Match 'CUB'
    }
}
