BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../ProtoPNet.psd1') -Force
}

Describe 'New-ProtoPNet' {
    It 'builds a smallcnn model with the requested classes and prototypes' {
        $m = New-ProtoPNet -Backbone smallcnn -ClassName a, b, c -PrototypesPerClass 4 -ImageSize 28 -Seed 1
        $m.ClassNames | Should -Be @('a', 'b', 'c')
        $m.PrototypeCount | Should -Be 12
        $m.FeatureMapSize | Should -Be 7
        $m.Backbone | Should -Be 'smallcnn'
    }

    It 'refuses an unknown backbone with UnknownBackbone' {
        { New-ProtoPNet -Backbone nosuchnet -ClassCount 2 -ErrorAction Stop } |
            Should -Throw -ErrorId 'UnknownBackbone,ProtoPNet.PowerShell.NewProtoPNetCommand'
    }

    It 'refuses -Device cuda on a machine without CUDA with CudaNotAvailable' {
        { New-ProtoPNet -Backbone smallcnn -ClassCount 2 -ImageSize 28 -Device cuda -ErrorAction Stop } |
            Should -Throw -ErrorId 'CudaNotAvailable,ProtoPNet.PowerShell.NewProtoPNetCommand'
    }
}
