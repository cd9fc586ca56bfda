BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../ProtoPNet.psd1') -Force
    $script:model = New-ProtoPNet -Backbone smallcnn -ClassName shirt, shoe -PrototypesPerClass 3 -ImageSize 28 -Seed 5 -Name tiny
}

Describe 'Export-ProtoPNet and Import-ProtoPNet' {
    It 'round-trips the model: classes, prototypes and every prototype row' {
        $path = Join-Path $TestDrive 'tiny.ptpn'
        $script:model | Export-ProtoPNet $path
        $back = Import-ProtoPNet $path
        $back.Name | Should -Be 'tiny'
        $back.ClassNames | Should -Be @('shirt', 'shoe')
        $back.PrototypeCount | Should -Be 6
        (Get-Prototype $back | ConvertTo-Json) | Should -Be (Get-Prototype $script:model | ConvertTo-Json)
    }

    It 'takes files from Get-ChildItem through -LiteralPath (PSPath)' {
        $path = Join-Path $TestDrive 'piped.ptpn'
        Export-ProtoPNet -Model $script:model -LiteralPath $path
        $back = Get-ChildItem $path | Import-ProtoPNet
        $back.PrototypeCount | Should -Be 6
    }

    It 'refuses to overwrite with -NoClobber (NoClobber) and keeps the file' {
        $path = Join-Path $TestDrive 'kept.ptpn'
        Set-Content $path 'precious'
        { $script:model | Export-ProtoPNet $path -NoClobber -ErrorAction Stop } |
            Should -Throw -ErrorId 'NoClobber,ProtoPNet.PowerShell.ExportProtoPNetCommand'
        Get-Content $path | Should -Be 'precious'
    }

    It 'writes nothing with -WhatIf' {
        $path = Join-Path $TestDrive 'whatif.ptpn'
        $script:model | Export-ProtoPNet $path -WhatIf
        Test-Path $path | Should -BeFalse
    }

    It 'needs -Force for a read-only file (FileReadOnly)' {
        $path = Join-Path $TestDrive 'ro.ptpn'
        Set-Content $path 'x'
        (Get-Item $path).IsReadOnly = $true
        { $script:model | Export-ProtoPNet $path -ErrorAction Stop } |
            Should -Throw -ErrorId 'FileReadOnly,ProtoPNet.PowerShell.ExportProtoPNetCommand'
        $script:model | Export-ProtoPNet $path -Force
        (Import-ProtoPNet $path).PrototypeCount | Should -Be 6
    }

    It 'refuses a file with one flipped byte (CorruptModelFile)' {
        $path = Join-Path $TestDrive 'flipped.ptpn'
        $script:model | Export-ProtoPNet $path
        $bytes = [IO.File]::ReadAllBytes($path)
        $bytes[[int]($bytes.Length / 2)] = $bytes[[int]($bytes.Length / 2)] -bxor 1
        [IO.File]::WriteAllBytes($path, $bytes)
        { Import-ProtoPNet $path -ErrorAction Stop } |
            Should -Throw -ErrorId 'CorruptModelFile,ProtoPNet.PowerShell.ImportProtoPNetCommand'
    }

    It 'refuses a truncated file (TruncatedModelFile)' {
        $path = Join-Path $TestDrive 'truncated.ptpn'
        $script:model | Export-ProtoPNet $path
        $bytes = [IO.File]::ReadAllBytes($path)
        [IO.File]::WriteAllBytes($path, $bytes[0..($bytes.Length - 1000)])
        { Import-ProtoPNet $path -ErrorAction Stop } |
            Should -Throw -ErrorId 'TruncatedModelFile,ProtoPNet.PowerShell.ImportProtoPNetCommand'
    }

    It 'refuses a random file (NotAProtoPNetFile) and goes on with the next file' {
        $random = Join-Path $TestDrive 'random.ptpn'
        $good = Join-Path $TestDrive 'good.ptpn'
        $bytes = [byte[]]::new(2048); [Random]::new(7).NextBytes($bytes)
        [IO.File]::WriteAllBytes($random, $bytes)
        $script:model | Export-ProtoPNet $good
        $loaded = Import-ProtoPNet -LiteralPath $random, $good -ErrorVariable errs -ErrorAction SilentlyContinue
        @($loaded).Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'NotAProtoPNetFile,ProtoPNet.PowerShell.ImportProtoPNetCommand'
        $errs[0].CategoryInfo.Category | Should -Be 'InvalidData'
    }

    It 'reports a missing file as ObjectNotFound' {
        { Import-ProtoPNet -LiteralPath (Join-Path $TestDrive 'nope.ptpn') -ErrorAction Stop } |
            Should -Throw -ErrorId 'ModelFileNotFound,ProtoPNet.PowerShell.ImportProtoPNetCommand'
    }
}

Describe 'Get-Prototype' {
    It 'lists each prototype with its class, and no provenance before push' {
        $rows = Get-Prototype $script:model
        $rows.Count | Should -Be 6
        ($rows | Group-Object Class | ForEach-Object Count) | Should -Be @(3, 3)
        $rows[0].SourceImage | Should -Be ''
        $rows[0].PSObject.Properties.Name | Should -Contain 'LatentRow'
    }

    It 'filters by class' {
        (Get-Prototype $script:model -Class shoe).Index | Should -Be @(3, 4, 5)
    }
}

Describe 'Import-ProtoPNet -PyTorchStateDict' {
    It 'reads a state dict written by PyTorch, inferring the architecture' {
        $m = Import-ProtoPNet -PyTorchStateDict (Join-Path $PSScriptRoot '../golden/tiny-protopnet.pth') -ImageSize 28 -ClassName a, b, c
        $m.Backbone | Should -Be 'smallcnn'
        $m.PrototypeCount | Should -Be 6
        $m.Architecture.PrototypeSize | Should -Be 2
        (Get-Prototype $m).Class | Should -Be @('a', 'a', 'b', 'b', 'c', 'c')
    }

    It 'refuses a file that is not a PyTorch state dict (WeightsFileUnreadable)' {
        $path = Join-Path $TestDrive 'notes.pth'
        Set-Content $path 'not a pickle'
        { Import-ProtoPNet -PyTorchStateDict $path -ErrorAction Stop } |
            Should -Throw -ErrorId 'WeightsFileUnreadable,ProtoPNet.PowerShell.ImportProtoPNetCommand'
    }

    It 'refuses a wrong number of class names (ClassCountMismatch)' {
        { Import-ProtoPNet -PyTorchStateDict (Join-Path $PSScriptRoot '../golden/tiny-protopnet.pth') -ImageSize 28 -ClassName a, b -ErrorAction Stop } |
            Should -Throw -ErrorId 'ClassCountMismatch,ProtoPNet.PowerShell.ImportProtoPNetCommand'
    }
}
