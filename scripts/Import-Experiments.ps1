# Dot-source from a script: imports the module and loads the experiment assembly (bin/experiments/ProtoPNet.Benchmarks.dll,
# synthetic data sets and benchmark harnesses) with the dependencies it shares with the module. Build first: ./build.ps1
Import-Module (Join-Path $PSScriptRoot '../ProtoPNet.psd1')
$bin = Join-Path $PSScriptRoot '../bin'
Add-Type -Path (Join-Path $bin 'TorchSharp.dll'), (Join-Path $bin 'SixLabors.ImageSharp.dll'), (Join-Path $bin 'ProtoPNet.Core.dll'), (Join-Path $bin 'experiments/ProtoPNet.Benchmarks.dll')
