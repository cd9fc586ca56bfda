BeforeAll {
    . (Join-Path $PSScriptRoot '../../scripts/Import-Experiments.ps1')
    $script:root = Join-Path ([IO.Path]::GetTempPath()) "ptpn-interp-$([guid]::NewGuid().ToString('N'))"
    $options = [ProtoPNet.Benchmarks.PlantedPartOptions]@{ ImageSize = 48; ClassCount = 2; TrainPerClass = 4; TestPerClass = 6; GlyphSize = 10; Distractors = 1; Seed = 2 }
    $script:planted = [ProtoPNet.Benchmarks.PlantedPartSet]::Write($root, $options)
    $script:test = Import-ProtoPNetDataset $planted.TestPath
    $script:model = New-ProtoPNet -Backbone smallcnn -ClassName $test.ClassNames -ImageSize 48 -PrototypesPerClass 2 -Seed 1 -Name planted
    $script:commandId = 'ProtoPNet.PowerShell.MeasureProtoPNetInterpretabilityCommand'
    $script:chromium = (Get-Command chromium, chromium-browser -ErrorAction Ignore | Select-Object -First 1).Source
}

AfterAll {
    Remove-Item -Recurse -Force $root -ErrorAction Ignore
}

Describe 'Measure-ProtoPNetInterpretability' {
    It 'emits one object per metric with its chance level, per-prototype rows that Export-Csv writes as they are, and a page that loads in Chromium' {
        $out = Join-Path $root 'report'
        $results = $model | Measure-ProtoPNetInterpretability $test -PartsPath $planted.PartsPath -PerPrototype -OutputDirectory $out
        $metrics = $results | Where-Object { $_ -is [ProtoPNet.Interpretability.InterpretabilityMetric] }
        $metrics.Metric | Should -Be @('PointingGame', 'Consistency', 'Stability', 'Deletion', 'Insertion')
        foreach ($m in $metrics) {
            $m.Chance | Should -Not -BeNullOrEmpty -Because "$($m.Metric) reports a chance level"
            $m.Images | Should -Be 12
            $m.Seconds | Should -BeGreaterThan 0
        }
        ($metrics | Where-Object Metric -eq 'PointingGame').Box | Should -Be 'ReceptiveField'
        ($metrics | Where-Object Metric -eq 'Deletion').Baseline | Should -Be 'NormalizedZero'
        $rows = $results | Where-Object { $_ -is [ProtoPNet.Interpretability.PrototypeInterpretability] }
        $rows.Count | Should -Be 4
        $csv = Join-Path $root 'prototypes.csv'
        $rows | Export-Csv $csv
        $text = Get-Content -Raw $csv
        $text | Should -Not -Match 'System\.'
        (Import-Csv $csv)[0].PreferredPart | Should -Be 'key'
        $metricsCsv = Join-Path $root 'metrics.csv'
        $metrics | Export-Csv $metricsCsv
        Get-Content -Raw $metricsCsv | Should -Not -Match 'System\.'

        $page = Join-Path $out 'interpretability.html'
        $page | Should -Exist
        Join-Path $out 'curves.png' | Should -Exist
        $chromium | Should -Not -BeNullOrEmpty -Because 'the HTML test needs Debian''s chromium (.ci/run installs it)'
        $probe = '<script>window.addEventListener("load",function(){var i=[].slice.call(document.images);' +
            'var ok=i.filter(function(x){return x.complete&&x.naturalWidth>0}).length;' +
            'var d=document.createElement("div");d.id="probe";d.textContent="loaded="+ok+"/"+i.length+" rows="+document.querySelectorAll("#metrics tr").length;document.body.appendChild(d);});</script>'
        $copy = Join-Path $out 'probe.html'
        Set-Content -LiteralPath $copy -Value ((Get-Content -Raw $page) -replace '</body>', "$probe</body>") -Encoding utf8
        $dom = & $chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update `
            --disable-sync --no-first-run "--user-data-dir=$(Join-Path $root 'chromium')" --dump-dom ([Uri]::new($copy, [UriKind]::Absolute)).AbsoluteUri 2>&1
        ($dom -join "`n") | Should -Match 'loaded=1/1 rows=6'     # the curves plot; the model was not pushed, so no patches
    }

    It 'refuses a missing, a malformed and a foreign parts file with their error ids' -TestCases @(
        @{ Case = 'missing'; Text = $null; Id = 'PartsFileNotFound'; Category = 'ObjectNotFound' }
        @{ Case = 'malformed'; Text = "Image,Part,X,Y`nx.png,key,1,2`n"; Id = 'PartsFileMalformed'; Category = 'InvalidData' }
        @{ Case = 'not a number'; Text = "Image,Part,X,Y,Width,Height`ntest/a/00000.png,key,one,2,3,3`n"; Id = 'PartsFileMalformed'; Category = 'InvalidData' }
        @{ Case = 'other images'; Text = "Image,Part,X,Y,Width,Height`nelsewhere/00000.png,key,1,2,3,3`n"; Id = 'PartsDoNotMatchDataset'; Category = 'InvalidArgument' }
    ) {
        param($Case, $Text, $Id, $Category)
        $file = Join-Path $root "parts-$($Case -replace ' ', '-').csv"
        if ($null -ne $Text) { Set-Content -LiteralPath $file -Value $Text -NoNewline }
        { $model | Measure-ProtoPNetInterpretability $test -PartsPath $file -Metric PointingGame -ErrorAction Stop } | Should -Throw -ErrorId "$Id,$commandId"
        try { $model | Measure-ProtoPNetInterpretability $test -PartsPath $file -Metric PointingGame -ErrorAction Stop }
        catch { $_.CategoryInfo.Category | Should -Be $Category }
    }

    It 'needs parts for the part metrics, measures deletion and insertion without them, and refuses -BoxMethod without the pointing game' {
        { $model | Measure-ProtoPNetInterpretability $test -Metric Consistency -ErrorAction Stop } | Should -Throw -ErrorId "PartsRequired,$commandId"
        { $model | Measure-ProtoPNetInterpretability $test -Metric Deletion -BoxMethod Percentile -ErrorAction Stop } | Should -Throw -ErrorId "BoxMethodNotApplicable,$commandId"
        $two = $test | Split-ProtoPNetDataset -ValidationFraction 0.2 -Seed 1 | Select-Object -Last 1
        $curves = $model | Measure-ProtoPNetInterpretability $two
        $curves.Metric | Should -Be @('Deletion', 'Insertion')
        ($curves[0].Curve -split ' ').Count | Should -Be 21
    }
}
