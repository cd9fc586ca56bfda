BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../ProtoPNet.psd1') -Force
    $script:cmd = 'ProtoPNet.PowerShell.NewProtoPNetCommand'

    # A .safetensors file written by hand from the format's definition (8-byte little-endian header length, JSON
    # header, raw data), holding zeros: the refusals below depend only on names and shapes.
    function Write-Safetensors([string] $Path, [System.Collections.Specialized.OrderedDictionary] $Tensors) {
        $header = [ordered]@{}
        $offset = 0
        foreach ($name in $Tensors.Keys) {
            $t = $Tensors[$name]
            $count = 1; foreach ($d in $t.Shape) { $count *= $d }
            $size = $count * $(if ($t.DType -eq 'I64') { 8 } else { 4 })
            $header[$name] = [ordered]@{ dtype = $t.DType; shape = @($t.Shape); data_offsets = @($offset, ($offset + $size)) }
            $offset += $size
        }
        $json = [Text.Encoding]::UTF8.GetBytes(($header | ConvertTo-Json -Compress -Depth 5))
        $stream = [IO.File]::Create($Path)
        try {
            $stream.Write([BitConverter]::GetBytes([long]$json.Length), 0, 8)
            $stream.Write($json, 0, $json.Length)
            $stream.Write([byte[]]::new($offset), 0, $offset)
        } finally { $stream.Dispose() }
    }

    # The names, element types and shapes of the smallcnn backbone, as a weights file must have them.
    function Get-SmallCnnLayout {
        $m = New-ProtoPNet -Backbone smallcnn -ClassCount 2 -ImageSize 28
        $layout = [ordered]@{}
        foreach ($entry in $m.Network.Backbone.state_dict($null, $null).GetEnumerator()) {
            $layout[$entry.Key] = @{ DType = $(if ("$($entry.Value.dtype)" -eq 'Int64') { 'I64' } else { 'F32' }); Shape = [long[]]$entry.Value.shape }
        }
        $m.Dispose()
        $layout
    }
}

Describe 'New-ProtoPNet -Weights' {
    It 'loads a TorchSharp .dat file of the same backbone, tensor for tensor' {
        $source = New-ProtoPNet -Backbone smallcnn -ClassCount 2 -ImageSize 28 -Seed 1
        $file = Join-Path $TestDrive 'smallcnn.dat'
        $source.Network.Backbone.save($file, $null) | Out-Null

        $model = New-ProtoPNet -Backbone smallcnn -ClassCount 2 -ImageSize 28 -Seed 2 -Weights $file

        $expected = $source.Network.Backbone.state_dict($null, $null)['features.conv3.weight'].data[float]().ToArray()
        $actual = $model.Network.Backbone.state_dict($null, $null)['features.conv3.weight'].data[float]().ToArray()
        $actual | Should -Be $expected
        $model.History.Stage | Should -Contain 'BackboneWeights'
    }

    It 'loads a hand-written .safetensors file with every tensor' {
        $file = Join-Path $TestDrive 'zeros.safetensors'
        Write-Safetensors $file (Get-SmallCnnLayout)
        $model = New-ProtoPNet -Backbone smallcnn -ClassCount 2 -ImageSize 28 -Weights $file
        $model.Network.Backbone.state_dict($null, $null)['features.bn1.weight'].data[float]().ToArray() | Should -Be (@(0) * 32)
    }

    It 'refuses a file that lacks a tensor, naming it' {
        $layout = Get-SmallCnnLayout
        $layout.Remove('features.conv2.weight')
        $file = Join-Path $TestDrive 'missing.safetensors'
        Write-Safetensors $file $layout
        $err = { New-ProtoPNet -Backbone smallcnn -ClassCount 2 -ImageSize 28 -Weights $file -ErrorAction Stop } |
            Should -Throw -ErrorId "WeightsMissingTensor,$cmd" -PassThru
        $err.Exception.Message | Should -Match "features\.conv2\.weight"
    }

    It 'refuses a tensor of the wrong shape, naming it and both shapes' {
        $layout = Get-SmallCnnLayout
        $layout['features.conv4.weight'].Shape = [long[]](128, 64, 1, 1)
        $file = Join-Path $TestDrive 'misshaped.safetensors'
        Write-Safetensors $file $layout
        $err = { New-ProtoPNet -Backbone smallcnn -ClassCount 2 -ImageSize 28 -Weights $file -ErrorAction Stop } |
            Should -Throw -ErrorId "WeightShapeMismatch,$cmd" -PassThru
        $err.Exception.Message | Should -BeLike "*'features.conv4.weight'*[128, 64, 3, 3]*[128, 64, 1, 1]*"
    }

    It 'refuses a file in no weights format with WeightsFileUnreadable' {
        $file = Join-Path $TestDrive 'noise.pth'
        [IO.File]::WriteAllBytes($file, [byte[]](1..200 | ForEach-Object { ($_ * 37) % 256 }))
        { New-ProtoPNet -Backbone smallcnn -ClassCount 2 -ImageSize 28 -Weights $file -ErrorAction Stop } |
            Should -Throw -ErrorId "WeightsFileUnreadable,$cmd"
    }

    It 'refuses a legacy (pre-zip) torch.save file saying how to convert it' {
        $file = Join-Path $TestDrive 'legacy.pth'
        [IO.File]::WriteAllBytes($file, [byte[]](0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e, 0x80))
        $err = { New-ProtoPNet -Backbone smallcnn -ClassCount 2 -ImageSize 28 -Weights $file -ErrorAction Stop } |
            Should -Throw -ErrorId "LegacyPthFormat,$cmd" -PassThru
        $err.Exception.Message | Should -Match 'torch\.save\(torch\.load'
    }

    It 'refuses a weights file that does not exist with FileNotFound' {
        { New-ProtoPNet -Backbone smallcnn -ClassCount 2 -ImageSize 28 -Weights (Join-Path $TestDrive 'none.pth') -ErrorAction Stop } |
            Should -Throw -ErrorId "FileNotFound,$cmd"
    }
}
