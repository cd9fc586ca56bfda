BeforeAll {
    $script:manifest = Join-Path $PSScriptRoot '../../ProtoPNet.psd1'
    Import-Module $manifest -Force
    $bin = Join-Path $PSScriptRoot '../../bin'
    Add-Type -Path (Join-Path $bin 'SixLabors.ImageSharp.dll'), (Join-Path $bin 'TorchSharp.dll')
    $script:root = Join-Path ([IO.Path]::GetTempPath()) "ptpn-explain-$([guid]::NewGuid().ToString('N'))"
    New-Item -ItemType Directory $root | Out-Null

    # A PNG of random colour blocks (4×4 px), so that images differ in content.
    function New-TestPng([string] $Path, [int] $Width, [int] $Height, [int] $Seed) {
        $rng = [Random]::new($Seed)
        $img = [SixLabors.ImageSharp.Image[SixLabors.ImageSharp.PixelFormats.Rgb24]]::new($Width, $Height)
        for ($by = 0; $by -lt $Height; $by += 4) {
            for ($bx = 0; $bx -lt $Width; $bx += 4) {
                $c = [SixLabors.ImageSharp.PixelFormats.Rgb24]::new($rng.Next(256), $rng.Next(256), $rng.Next(256))
                for ($y = $by; $y -lt [Math]::Min($by + 4, $Height); $y++) {
                    for ($x = $bx; $x -lt [Math]::Min($bx + 4, $Width); $x++) { $img[$x, $y] = $c }
                }
            }
        }
        [SixLabors.ImageSharp.ImageExtensions]::SaveAsPng($img, $Path)
        $img.Dispose()
        Get-Item $Path
    }

    $script:imageDir = Join-Path $root 'images'
    New-Item -ItemType Directory $imageDir | Out-Null
    $script:files = 1..5 | ForEach-Object { New-TestPng (Join-Path $imageDir "img$_.png") (24 + 4 * $_) 32 $_ }
    $script:model = New-ProtoPNet -Backbone smallcnn -ClassName a, b, c -PrototypesPerClass 2 -ImageSize 28 -Seed 3 -Name solo
}

AfterAll {
    Remove-Item -Recurse -Force $root -ErrorAction Ignore
}

Describe 'Get-Explanation' {
    It 'writes -Top 0 rows whose contributions add up to the logit, through Export-Csv and Import-Csv' {
        $csv = Join-Path $root 'all.csv'
        $files | Get-Explanation -Model $model -Top 0 | Export-Csv $csv
        $rows = Import-Csv $csv
        $rows.Count | Should -Be (5 * $model.PrototypeCount)
        foreach ($group in $rows | Group-Object ImagePath) {
            $sum = ($group.Group | Measure-Object -Property Contribution -Sum).Sum
            $logit = [double]$group.Group[0].Logit
            [Math]::Abs($sum - $logit) | Should -BeLessOrEqual (1e-4 * [Math]::Max(1, [Math]::Abs($logit)))
            ($group.Group.Rank | ForEach-Object { [int]$_ }) | Should -Be (1..$model.PrototypeCount)
        }
        $header = (Get-Content $csv -TotalCount 1) -replace '"', '' -split ','
        foreach ($name in 'ImagePath', 'PredictedClass', 'Probability', 'Logit', 'TrueClass', 'Rank', 'Model', 'PrototypeIndex',
            'PrototypeClass', 'Similarity', 'Distance', 'Weight', 'Contribution', 'BoxX', 'BoxY', 'BoxWidth', 'BoxHeight',
            'PrototypeImage', 'PrototypeBoxX', 'PrototypeBoxY', 'PrototypeBoxWidth', 'PrototypeBoxHeight') {
            $header | Should -Contain $name
        }
        Get-Content $csv -Raw | Should -Not -Match 'System\.'
        $rows[0].Model | Should -Be 'solo'
    }

    It 'takes FileInfo from Get-ChildItem and keeps input order' {
        $rows = Get-ChildItem $imageDir -Filter *.png | Sort-Object Name | Get-Explanation -Model $model -Top 2 -BatchSize 2
        $rows.Count | Should -Be 10
        ($rows.ImagePath | Select-Object -Unique) | Should -Be ($files | Sort-Object Name).FullName
        $rows[0].ImageIndex | Should -Be 0
        $rows[-1].ImageIndex | Should -Be 4
        $rows[0].BoxX + $rows[0].BoxWidth | Should -BeLessOrEqual 28    # img1 is 28×32: boxes in its own pixels
        $rows[0].ReceptiveField | Should -BeGreaterThan 0
    }

    It 'reports a missing image as ObjectNotFound with ImageNotFound' {
        { Get-Explanation -LiteralPath (Join-Path $root 'nope.png') -Model $model -ErrorAction Stop } |
            Should -Throw -ErrorId 'ImageNotFound,ProtoPNet.PowerShell.GetExplanationCommand'
        { Get-Explanation -Path (Join-Path $root 'nope.png') -Model $model -ErrorAction Stop } |
            Should -Throw -ErrorId 'ImageNotFound,ProtoPNet.PowerShell.GetExplanationCommand'
        $null = Get-Explanation -LiteralPath (Join-Path $root 'nope.png') -Model $model -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'gives one error for a corrupt image among many and explains the rest' {
        $bad = Join-Path $root 'corrupt.png'
        [IO.File]::WriteAllBytes($bad, [byte[]](137, 80, 78, 71, 13, 10, 26, 10, 1, 2, 3, 4, 5))
        $inputs = @($files[0].FullName, $files[1].FullName, $bad, $files[2].FullName)
        $rows = $inputs | Get-Explanation -Model $model -Top 1 -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Match '^(ImageDecodeFailed|UnsupportedImageFormat),ProtoPNet.PowerShell.GetExplanationCommand$'
        $rows.ImagePath | Should -Be @($files[0].FullName, $files[1].FullName, $files[2].FullName)
    }

    It 'refuses an unknown -Class with UnknownClass' {
        { $files[0] | Get-Explanation -Model $model -Class nosuch -ErrorAction Stop } |
            Should -Throw -ErrorId 'UnknownClass,ProtoPNet.PowerShell.GetExplanationCommand'
    }

    It 'gives the same rows from ForEach-Object -Parallel on one model' {
        $expected = $files | Get-Explanation -Model $model -Top 3 | ForEach-Object { '{0}|{1}|{2:R}' -f $_.ImagePath, $_.PrototypeIndex, $_.Contribution }
        $m = $model; $f = $files.FullName; $psd = $manifest
        $runs = 1..4 | ForEach-Object -ThrottleLimit 4 -Parallel {
            Import-Module $using:psd
            , @($using:f | Get-Explanation -Model $using:m -Top 3 | ForEach-Object { '{0}|{1}|{2:R}' -f $_.ImagePath, $_.PrototypeIndex, $_.Contribution })
        }
        $runs.Count | Should -Be 4
        foreach ($run in $runs) { $run | Should -Be $expected }
    }

    It 'explains dataset items with TrueClass and ranks -Nearest by similarity' {
        $model | Out-Null
        $images = [TorchSharp.torch]::rand([long[]]@(4, 3, 28, 28))
        $data = [ProtoPNet.Data.TensorDataset]::new('mem', $images, [int[]]@(0, 1, 2, 0), [string[]]@('a', 'b', 'c'))
        $rows = Get-Explanation -Dataset $data -Model $model -Top 0 -Nearest
        $rows.Count | Should -Be (4 * $model.PrototypeCount)
        ($rows | Where-Object ImageIndex -EQ 1)[0].TrueClass | Should -Be 'b'
        $first = $rows | Where-Object ImageIndex -EQ 0
        $sim = $first.Similarity
        for ($i = 1; $i -lt $sim.Count; $i++) { $sim[$i] | Should -BeLessOrEqual $sim[$i - 1] }
    }
}

Describe 'Join-ProtoPNet' {
    BeforeAll {
        $script:other = New-ProtoPNet -Backbone smallcnn -ClassName a, b, c -PrototypesPerClass 1 -ImageSize 28 -Seed 4 -Name second
        $script:ensemble = Join-ProtoPNet $model, $other
    }

    It 'explains an ensemble as one sheet whose contributions add up to the ensemble logit' {
        $ensemble.PrototypeCount | Should -Be ($model.PrototypeCount + $other.PrototypeCount)
        $rows = $files[0] | Get-Explanation -Model $ensemble -Top 0
        $rows.Count | Should -Be $ensemble.PrototypeCount
        ($rows.Model | Sort-Object -Unique) | Should -Be @('second', 'solo')
        $solo = $files[0] | Get-Explanation -Model $model -Top 1
        $second = $files[0] | Get-Explanation -Model $other -Top 1 -Class $solo.PredictedClass
        $sum = ($rows | Measure-Object Contribution -Sum).Sum
        [Math]::Abs($sum - $rows[0].Logit) | Should -BeLessOrEqual (1e-4 * [Math]::Max(1, [Math]::Abs($sum)))
        if ($rows[0].PredictedClass -eq $solo.PredictedClass) {
            [Math]::Abs($rows[0].Logit - ($solo.Logit + $second.ExplainedLogit)) | Should -BeLessOrEqual 1e-4
        }
    }

    It 'round-trips through Export-ProtoPNet and Import-ProtoPNet' {
        $path = Join-Path $root 'ensemble.ptpn'
        $ensemble | Export-ProtoPNet $path
        $loaded = Import-ProtoPNet $path
        $loaded | Should -BeOfType ([ProtoPNet.Model.ProtoPNetEnsemble])
        $loaded.MemberNames | Should -Be @('solo', 'second')
        $a = $files[1] | Get-Explanation -Model $ensemble -Top 3
        $b = $files[1] | Get-Explanation -Model $loaded -Top 3
        $b.Contribution | Should -Be $a.Contribution
    }

    It 'is tested by Test-ProtoPNet: its predictions are the argmax of the summed member logits' {
        $images = [TorchSharp.torch]::rand([long[]]@(6, 3, 28, 28))
        $data = [ProtoPNet.Data.TensorDataset]::new('mem', $images, [int[]]@(0, 1, 2, 0, 1, 2), [string[]]@('a', 'b', 'c'))
        $result = $ensemble | Test-ProtoPNet -Dataset $data
        $result.Count | Should -Be 6
        $rows = Get-Explanation -Dataset $data -Model $ensemble -Top 1
        $expected = @($rows | Where-Object { $_.PredictedClass -eq $data.ClassNames[$data.LabelOf($_.ImageIndex)] }).Count / 6
        $result.Accuracy | Should -Be $expected
        $result.Model | Should -Be $ensemble.Name
    }

    It 'refuses members with different classes with EnsembleMismatch' {
        $odd = New-ProtoPNet -Backbone smallcnn -ClassName a, b -PrototypesPerClass 1 -ImageSize 28 -Seed 5
        { Join-ProtoPNet $model, $odd -ErrorAction Stop } | Should -Throw -ErrorId 'EnsembleMismatch,ProtoPNet.PowerShell.JoinProtoPNetCommand'
    }
}

Describe 'Invoke-PrototypePruning and Find-NearestPatch' {
    BeforeAll {
        # Every training image is labelled 'a': prototypes of b and c have no nearest patch of their class.
        $images = [TorchSharp.torch]::rand([long[]]@(8, 3, 28, 28))
        $script:train = [ProtoPNet.Data.TensorDataset]::new('train', $images, [int[]]@(0) * 8, [string[]]@('a', 'b', 'c'))
    }

    It 'finds K nearest patches per prototype, one per image' {
        $patches = Find-NearestPatch -Model $model -Dataset $train -K 3
        $patches.Count | Should -Be (3 * $model.PrototypeCount)
        foreach ($g in $patches | Group-Object PrototypeIndex) {
            ($g.Group.ImageIndex | Sort-Object -Unique).Count | Should -Be 3
            $g.Group[0].Distance | Should -BeLessOrEqual $g.Group[2].Distance
        }
    }

    It 'Get-Prototype gives each prototype its own-class weight and, with -Dataset, how often it is the top evidence' {
        $info = Get-Prototype $model -Dataset $train
        $info.Count | Should -Be $model.PrototypeCount
        ($info | Measure-Object TopEvidence -Sum).Sum | Should -Be 8
        $info.Images | Select-Object -Unique | Should -Be 8
        # The top evidence of each image is the first row Get-Explanation gives it.
        $first = Get-Explanation -Model $model -Dataset $train -Top 1
        foreach ($p in $info) { $p.TopEvidence | Should -Be @($first | Where-Object PrototypeIndex -EQ $p.Index).Count }
        foreach ($class in $info | Group-Object Class) { ($class.Group | Measure-Object WeightShare -Sum).Sum | Should -BeGreaterThan 0.999 }
        (Get-Prototype $model)[0].TopEvidence | Should -BeNullOrEmpty
    }

    It '-WhatIf removes nothing; without it the failing prototypes go and the model stays consistent' {
        $m = New-ProtoPNet -Backbone smallcnn -ClassName a, b, c -PrototypesPerClass 2 -ImageSize 28 -Seed 6
        $out = $m | Invoke-PrototypePruning -Dataset $train -WhatIf
        $out | Should -BeNullOrEmpty
        $m.PrototypeCount | Should -Be 6

        $result = $m | Invoke-PrototypePruning -Dataset $train -Confirm:$false -PassThru
        $removed = $result | Where-Object { $_ -is [ProtoPNet.Explanation.PruningDecision] }
        ($removed.PrototypeIndex) | Should -Be @(2, 3, 4, 5)
        $removed[0].Reason | Should -Match 'only 0 of its 6'
        $pruned = $result | Where-Object { $_ -is [ProtoPNet.Model.ProtoPNetModel] }
        $pruned.PrototypeCount | Should -Be 2
        $pruned.PrototypeClass | Should -Be @(0, 0)
        $rows = $files[0] | Get-Explanation -Model $pruned -Top 0
        $rows.Count | Should -Be 2
        [Math]::Abs(($rows | Measure-Object Contribution -Sum).Sum - $rows[0].Logit) | Should -BeLessOrEqual 1e-4
    }
}

Describe 'HTML pictures' {
    BeforeAll {
        $script:chromium = (Get-Command chromium, chromium-browser -ErrorAction Ignore | Select-Object -First 1).Source
        # Without Chromium these tests are reported skipped, never passed: build.ps1 -Task Test says why it could not install it.
        $script:chromiumMissing = if ($env:PROTOPNET_CHROMIUM_MISSING) { $env:PROTOPNET_CHROMIUM_MISSING } else { 'chromium is not installed (apt-get install chromium)' }
        # Give every prototype a provenance in a real training image, as push would.
        $script:source = New-TestPng (Join-Path $root 'train-source.png') 40 30 99
        $script:pictured = New-ProtoPNet -Backbone smallcnn -ClassName a, b, c -PrototypesPerClass 2 -ImageSize 28 -Seed 7 -Name pictured
        for ($j = 0; $j -lt $pictured.PrototypeCount; $j++) {
            $pictured.SetProvenance($j, [ProtoPNet.Model.PrototypeProvenance]@{ SourceImage = $source.FullName; BoxX = 4 * $j; BoxY = 3; BoxWidth = 12; BoxHeight = 10 })
        }

        # Loads the page in headless Chromium with a script that counts the images that loaded; returns "loaded/total".
        function Get-LoadedImageCount([string] $Page) {
            $html = Get-Content -Raw $Page
            $probe = '<script>window.addEventListener("load",function(){var i=[].slice.call(document.images);' +
                'var ok=i.filter(function(x){return x.complete&&x.naturalWidth>0}).length;' +
                'var d=document.createElement("div");d.id="probe";d.textContent="loaded="+ok+"/"+i.length;document.body.appendChild(d);});</script>'
            $copy = Join-Path (Split-Path $Page) ('probe-' + (Split-Path -Leaf $Page))
            Set-Content -LiteralPath $copy -Value ($html -replace '</body>', "$probe</body>") -Encoding utf8
            $userData = Join-Path $root ("chromium-" + [guid]::NewGuid().ToString('N'))
            # stderr is merged, not discarded: with 2>$null this Chromium printed nothing at all.
            $dom = & $chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update `
                --disable-sync --no-first-run "--user-data-dir=$userData" --dump-dom ([Uri]::new($copy, [UriKind]::Absolute)).AbsoluteUri 2>&1
            if (($dom -join "`n") -match 'loaded=(\d+)/(\d+)') { return "$($Matches[1])/$($Matches[2])" }
            "no probe in DOM: $(($dom | Select-Object -Last 5) -join ' | ')"
        }
    }

    It 'writes a scoring sheet whose images all load in Chromium' {
        if (-not $chromium) { Set-ItResult -Skipped -Because $chromiumMissing; return }
        $chromium | Should -Not -BeNullOrEmpty -Because 'the HTML test needs Debian''s chromium (build.ps1 -Task Test installs it)'
        $out = Join-Path $root 'sheets'
        $rows = $files[0], $files[1] | Get-Explanation -Model $pictured -Top 3 -OutputDirectory $out
        $sheet = $rows[0].ScoringSheet
        $sheet | Should -Exist
        Join-Path $out 'index.html' | Should -Exist
        $text = Get-Content -Raw $sheet
        $text | Should -Match 'Runner-up'
        $text | Should -Match 'Total points'
        $count = Get-LoadedImageCount $sheet
        $count | Should -Match '^\d+/\d+$'
        $loaded, $total = $count -split '/'
        [int]$total | Should -BeGreaterThan 10       # input + per prototype row: box, patch, source, heat map
        $loaded | Should -Be $total
    }

    It 'writes a prototype gallery grouped by class that loads in Chromium' {
        if (-not $chromium) { Set-ItResult -Skipped -Because $chromiumMissing; return }
        $chromium | Should -Not -BeNullOrEmpty -Because 'the HTML test needs Debian''s chromium (build.ps1 -Task Test installs it)'
        $out = Join-Path $root 'gallery'
        $info = Get-Prototype $pictured -OutputDirectory $out
        $info.Count | Should -Be 6
        $page = Join-Path $out 'prototypes.html'
        $page | Should -Exist
        (Select-String -Path $page -Pattern '<h2>' -AllMatches).Matches.Count | Should -Be 3
        $count = Get-LoadedImageCount $page
        $count | Should -Be '12/12'
    }
}
