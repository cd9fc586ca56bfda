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

Describe 'The offline ImageNet backbone' {
    It 'builds resnet18-imagenet with its weights and Caffe-style input normalization' {
        $m = New-ProtoPNet -Backbone resnet18-imagenet -ClassCount 2 -ImageSize 64 -PrototypesPerClass 1
        $m.Architecture.Normalization.Bgr | Should -BeTrue
        $m.Architecture.Normalization.Scale | Should -Be 255
        # The backbone's weights are exactly the converted ImageNet ones the build laid out.
        $file = Join-Path $PSScriptRoot '../../bin/weights/resnet18-imagenet.safetensors'
        Add-Type -Path (Join-Path $PSScriptRoot '../../bin/TorchSharp.PyBridge.dll')
        $converted = [TorchSharp.PyBridge.Safetensors]::LoadStateDict($file, $null)
        $state = $m.Network.Backbone.state_dict()
        foreach ($name in 'conv1.weight', 'layer4.2.conv2.weight', 'layer4.2.bn2.running_var') {
            $state[$name].allclose($converted[$name], 0, 0, $false) | Should -BeTrue -Because $name
        }
        $m.History[0].Stage | Should -Be 'PretrainedBackbone'
    }
}
