# libtorch writes its warnings straight to the process's stderr: only a child process shows them.
Describe 'Native warnings' {
    BeforeAll {
        $script:manifest = Join-Path $PSScriptRoot '../../ProtoPNet.psd1'
        $script:work = Join-Path ([IO.Path]::GetTempPath()) ("ptpn-native-" + [guid]::NewGuid().ToString('N'))
        New-Item -ItemType Directory $work | Out-Null
    }
    AfterAll { Remove-Item -Recurse -Force $work -ErrorAction Ignore }

    It 'runs convolution inference on several threads without an NNPACK line on stderr' {
        # Inference on runspace threads other than the first printed "Could not initialize NNPACK! Reason: Unsupported
        # hardware." twice per batch on CPUs NNPACK does not support (ForEach-Object -Parallel, Join-ProtoPNet).
        $script = @"
Import-Module '$manifest'
`$model = New-ProtoPNet -Backbone smallcnn -ClassName a, b -ImageSize 28 -Seed 1
1..4 | ForEach-Object -ThrottleLimit 4 -Parallel {
    `$network = (`$using:model).Network
    `$network.eval() | Out-Null
    `$noGrad = [TorchSharp.torch]::no_grad()
    `$images = [TorchSharp.torch]::rand([long[]]@(32, 3, 28, 28))
    `$output = `$network.forward(`$images)
    'logits ' + (`$output.Logits.shape -join 'x')
    `$noGrad.Dispose()
}
'NNPACK enabled: ' + [ProtoPNet.Runtime.NativeTorch]::NnpackEnabled()
"@
        $file = Join-Path $work 'inference.ps1'
        Set-Content -LiteralPath $file -Value $script
        $stderr = Join-Path $work 'stderr.txt'
        # This pwsh again: 'dotnet pwsh' (the repository's local tool) runs pwsh.dll through dotnet.
        $out = if ([IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') {
            & ([Environment]::ProcessPath) (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -File $file 2>$stderr
        } else {
            & ([Environment]::ProcessPath) -NoProfile -NonInteractive -File $file 2>$stderr
        }
        $LASTEXITCODE | Should -Be 0
        @($out | Where-Object { $_ -like 'logits *' }) | Should -Be @('logits 32x2', 'logits 32x2', 'logits 32x2', 'logits 32x2')
        Get-Content -Raw $stderr | Should -Not -Match 'NNPACK'
        if ($IsLinux -and [Runtime.InteropServices.RuntimeInformation]::ProcessArchitecture -eq 'X64') {
            $out | Should -Contain 'NNPACK enabled: False'         # turned off at the source, not filtered out
        }
    }
}
