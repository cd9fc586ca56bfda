BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../ProtoPNet.psd1') -Force
    # Touching the decoder loads ImageSharp from the module folder; the helper compiles against that same assembly.
    $imageSharp = [ProtoPNet.Data.ImageDecoder]::Configuration.GetType().Assembly.Location
    if (-not ('TestImages' -as [type])) {
        Add-Type -Path (Join-Path $PSScriptRoot 'TestImages.cs') -ReferencedAssemblies $imageSharp -IgnoreWarnings -WarningAction SilentlyContinue
    }
    if (-not ('MatWriter' -as [type])) {
        Add-Type -Path (Join-Path $PSScriptRoot '../shared/MatWriter.cs') -IgnoreWarnings -WarningAction SilentlyContinue
    }
    $script:repo = Resolve-Path (Join-Path $PSScriptRoot '../..')
    $script:sample = Join-Path $repo 'data/fashion-mnist-sample'
    $script:crafted = Join-Path $repo 'tests/data'
    $script:importId = 'ProtoPNet.PowerShell.ImportProtoPNetDatasetCommand'

    function Test-SameBytes([byte[]] $a, [byte[]] $b) { [Linq.Enumerable]::SequenceEqual($a, $b) }

    # CUB-200-2011 in miniature: 3 classes × 4 JPEGs, odd ids train, boxes, two parts per image.
    function New-MiniCub([string] $root) {
        $cub = Join-Path $root 'CUB_200_2011'
        $classes = '001.Black_footed_Albatross', '002.Laysan_Albatross', '003.Sooty_Albatross'
        $images = @(); $labels = @(); $split = @(); $boxes = @(); $locs = @()
        $id = 0
        foreach ($k in 0..2) {
            New-Item -ItemType Directory -Force (Join-Path $cub "images/$($classes[$k])") | Out-Null
            foreach ($i in 1..4) {
                $id++
                $relative = '{0}/{1}_{2:D4}.jpg' -f $classes[$k], ($classes[$k] -replace '^\d+\.', ''), $i
                [TestImages]::WriteJpeg((Join-Path $cub "images/$relative"), 40 + $i, 32, $id)
                $images += "$id $relative"; $labels += "$id $($k + 1)"; $split += "$id $($id % 2)"
                $boxes += "$id $($i + 2).0 3.0 20.0 20.0"
                $locs += "$id 1 10.0 12.0 1"; $locs += "$id 2 0.0 0.0 0"
            }
        }
        Set-Content (Join-Path $cub 'classes.txt') ($classes | ForEach-Object -Begin { $n = 0 } -Process { $n++; "$n $_" })
        Set-Content (Join-Path $cub 'images.txt') $images
        Set-Content (Join-Path $cub 'image_class_labels.txt') $labels
        Set-Content (Join-Path $cub 'train_test_split.txt') $split
        Set-Content (Join-Path $cub 'bounding_boxes.txt') $boxes
        New-Item -ItemType Directory -Force (Join-Path $cub 'parts') | Out-Null
        Set-Content (Join-Path $cub 'parts/parts.txt') '1 back', '2 beak'
        Set-Content (Join-Path $cub 'parts/part_locs.txt') $locs
        $cub
    }

    $script:carClasses = 'AM General Hummer SUV 2000', 'Acura RL Sedan 2012'
    # Stanford Cars devkit layout: .mat annotations (compressed and not), cars_train/ and cars_test/.
    function New-MiniCars([string] $root) {
        New-Item -ItemType Directory -Force (Join-Path $root 'devkit'), (Join-Path $root 'cars_train'), (Join-Path $root 'cars_test') | Out-Null
        [MatWriter]::WriteCellOfStrings((Join-Path $root 'devkit/cars_meta.mat'), 'class_names', [string[]]$carClasses, $true)
        $fields = [string[]]('bbox_x1', 'bbox_y1', 'bbox_x2', 'bbox_y2', 'class', 'fname')
        $train = foreach ($i in 1..3) {
            [TestImages]::WriteJpeg((Join-Path $root ('cars_train/{0:D5}.jpg' -f $i)), 48, 36, $i)
            , [object[]]@([uint16]3, [uint16]2, [uint16]22, [uint16]21, [byte](($i % 2) + 1), ('{0:D5}.jpg' -f $i))
        }
        [MatWriter]::WriteStructArray((Join-Path $root 'devkit/cars_train_annos.mat'), 'annotations', $fields, [object[][]]$train, $false)
        $test = foreach ($i in 1..2) {
            [TestImages]::WriteJpeg((Join-Path $root ('cars_test/{0:D5}.jpg' -f $i)), 50, 40, 10 + $i)
            , [object[]]@([uint16]1, [uint16]1, [uint16]30, [uint16]30, [byte]2, ('{0:D5}.jpg' -f $i))
        }
        [MatWriter]::WriteStructArray((Join-Path $root 'cars_test_annos_withlabels.mat'), 'annotations', $fields, [object[][]]$test, $true)
    }
}

Describe 'Import-ProtoPNetDataset: IDX' {
    It 'reads the bundled Fashion-MNIST sample with its labels and class names' {
        $train = Import-ProtoPNetDataset $sample -Split Train
        $train.Format | Should -Be 'Idx'
        $train.Count | Should -Be 6000
        $train.ClassNames | Should -Be @('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot')
        (0..9 | ForEach-Object { $train.LabelOf($_) }) | Should -Be @(9, 0, 0, 3, 0, 2, 7, 2, 5, 5)
        $train.CountPerClass() | Should -Be (@(600) * 10)
        (Import-ProtoPNetDataset $sample -Split Test).Count | Should -Be 1000
        (Import-ProtoPNetDataset $sample).Count | Should -Be 7000
    }

    It 'pairs an images file with its labels file and honours -ClassName' {
        $ds = Import-ProtoPNetDataset -LiteralPath (Join-Path $sample 't10k-images-idx3-ubyte.gz') -ClassName (0..9 | ForEach-Object { "c$_" })
        $ds.Count | Should -Be 1000
        $ds.ClassNames[9] | Should -Be 'c9'
        $ds.LabelOf(0) | Should -Be 9
    }

    It 'shows name, format, count, classes, per-class counts and skipped count by default' {
        $text = Import-ProtoPNetDataset $sample -Split Test | Out-String
        foreach ($label in 'Name', 'Format', 'Count', 'ClassCount', 'PerClass', 'SkippedCount') { $text | Should -Match $label }
        $text | Should -Match 'T-shirt/top 100'
    }
}

Describe 'Import-ProtoPNetDataset: image folders and bad files' {
    BeforeAll {
        $script:folder = Join-Path $TestDrive 'folder'
        foreach ($c in 'b', 'a', 'B', 'empty') { New-Item -ItemType Directory -Force (Join-Path $folder $c) | Out-Null }
        [TestImages]::WritePng((Join-Path $folder 'a/one.png'), 20, 10, 1)
        [TestImages]::WriteJpeg((Join-Path $folder 'a/photo-without-extension'), 20, 10, 2)
        [TestImages]::Write16BitPng((Join-Path $folder 'a/sixteen-bit.png'))
        Copy-Item (Join-Path $crafted 'cmyk.jpg') (Join-Path $folder 'b/cmyk.jpg')
        [TestImages]::WriteOnePixel((Join-Path $folder 'b/one-pixel.png'), 10, 200, 30)
        [TestImages]::WriteTruncatedJpeg((Join-Path $folder 'b/truncated.jpg'), 64, 64, 0.5)
        [TestImages]::WritePng((Join-Path $folder 'B/x.png'), 8, 8, 3)
        New-Item -ItemType File (Join-Path $folder 'B/zero.jpg') | Out-Null
        Set-Content (Join-Path $folder 'B/text.jpg') 'this is not a JPEG'
        Copy-Item (Join-Path $crafted 'huge-100000x100000.png') (Join-Path $folder 'B/huge.png')
        $script:before = Get-ChildItem -Recurse -File $folder | Get-FileHash | ForEach-Object Hash
        $script:ds = Import-ProtoPNetDataset $folder -ErrorVariable importErrors -ErrorAction SilentlyContinue -WarningVariable importWarnings -WarningAction SilentlyContinue
        $script:importErrors = $importErrors
        $script:importWarnings = $importWarnings
    }

    It 'sorts class folders ordinally and finds images by content' {
        $ds.Format | Should -Be 'ImageFolder'
        $ds.ClassNames | Should -Be @('B', 'a', 'b', 'empty')
        $ds.CountPerClass() | Should -Be @(1, 3, 3, 0)
        @($ds.Items | Where-Object Path -like '*photo-without-extension').Count | Should -Be 1
    }

    It 'reports each unreadable file as a non-terminating error with its id, naming the file' -TestCases @(
        @{ File = 'zero.jpg'; Id = 'EmptyImageFile' }
        @{ File = 'text.jpg'; Id = 'UnsupportedImageFormat' }
        @{ File = 'huge.png'; Id = 'ImageTooLarge' }
    ) {
        $record = $importErrors | Where-Object { "$($_.TargetObject)" -like "*$File" }
        $record | Should -HaveCount 1
        $record.FullyQualifiedErrorId | Should -Be "$Id,$importId"
        $record.Exception.Message | Should -Match ([regex]::Escape($File))
    }

    It 'counts the skipped files and uses the rest' {
        $ds.SkippedCount | Should -Be 3
        $ds.Count | Should -Be 7
        $importWarnings.Message -join "`n" | Should -Match '3 file\(s\)'
    }

    It 'warns about an empty class folder' {
        $importWarnings.Message -join "`n" | Should -Match "Class folder '.*empty' is empty"
    }

    It 'decodes a 16-bit PNG, a CMYK JPEG and a 1x1 image to RGB' {
        $sixteen = [array]::IndexOf(@($ds.Items.Path), (Join-Path $folder 'a/sixteen-bit.png'))
        $rgb = $ds.LoadRgb($sixteen, 3).Item1
        $rgb[(1 * 3 + 1) * 3], $rgb[(1 * 3 + 1) * 3 + 1], $rgb[(1 * 3 + 1) * 3 + 2] | Should -Be @(255, 0, 128)

        $cmyk = [array]::IndexOf(@($ds.Items.Path), (Join-Path $folder 'b/cmyk.jpg'))
        $px = $ds.LoadRgb($cmyk, 16).Item1
        # rgb(200, 40, 30) through CMYK and JPEG: close, not exact.
        [Math]::Abs($px[0] - 200) | Should -BeLessThan 20
        [Math]::Abs($px[1] - 40) | Should -BeLessThan 20
        [Math]::Abs($px[2] - 30) | Should -BeLessThan 20

        $one = [array]::IndexOf(@($ds.Items.Path), (Join-Path $folder 'b/one-pixel.png'))
        $loaded = $ds.Load($one, 4)
        $loaded.Pixels.shape | Should -Be @(3, 4, 4)
        $loaded.Geometry.OriginalWidth | Should -Be 1
        $loaded.Dispose()
    }

    It 'refuses to load a truncated JPEG with ImageDecodeFailed (the header alone passes at import)' {
        $truncated = [array]::IndexOf(@($ds.Items.Path), (Join-Path $folder 'b/truncated.jpg'))
        $truncated | Should -BeGreaterOrEqual 0
        $e = { $ds.Load($truncated, 8) } | Should -Throw -PassThru
        $e.Exception.InnerException.ErrorId | Should -Be 'ImageDecodeFailed'
    }

    It 'reports a truncated JPEG with ImageDecodeFailed when -Verify decodes everything' {
        $null = Import-ProtoPNetDataset -LiteralPath $folder -Verify -ErrorVariable verifyErrors -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        $record = $verifyErrors | Where-Object { "$($_.TargetObject)" -like '*truncated.jpg' }
        $record.FullyQualifiedErrorId | Should -Be "ImageDecodeFailed,$importId"
    }

    It 'never modifies the files it reads' {
        Get-ChildItem -Recurse -File $folder | Get-FileHash | ForEach-Object Hash | Should -Be $before
    }

    It 'refuses -Split Train on an image folder' {
        { Import-ProtoPNetDataset $folder -Split Train -ErrorAction Stop -WarningAction SilentlyContinue 2>$null } |
            Should -Throw -ErrorId "SplitNotAvailable,$importId"
    }
}

Describe 'Import-ProtoPNetDataset: CUB-200-2011' {
    BeforeAll {
        $script:cubParent = Join-Path $TestDrive 'cub'
        $script:cub = New-MiniCub $cubParent
    }

    It 'reads the official split and readable class names, from the folder or its parent' {
        $all = Import-ProtoPNetDataset $cubParent
        $all.Format | Should -Be 'Cub200'
        $all.Count | Should -Be 12
        $all.ClassNames | Should -Be @('Black_footed_Albatross', 'Laysan_Albatross', 'Sooty_Albatross')
        $train = Import-ProtoPNetDataset $cub -Split Train
        $train.Count | Should -Be 6
        $train.Items.Id | Should -Be @(1, 3, 5, 7, 9, 11)
        (Import-ProtoPNetDataset $cub -Format Cub200 -Split Test).Items.Id | Should -Be @(2, 4, 6, 8, 10, 12)
    }

    It 'crops to the bounding box pixel-exactly and records the geometry' {
        $ds = Import-ProtoPNetDataset $cub -Split Train -CropToBoundingBox
        $item = $ds.Items[1]     # image 3: box (5, 3, 20, 20)
        $loaded = $ds.LoadRgb(1, 20)
        Test-SameBytes $loaded.Item1 ([TestImages]::CropBytes($item.Path, 5, 3, 20, 20)) | Should -BeTrue
        $g = $loaded.Item2
        $g.CropX, $g.CropY, $g.CropWidth, $g.CropHeight, $g.OriginalWidth | Should -Be @(5, 3, 20, 20, 43)
        $g.ToOriginal(0, 0, 10, 10) | Should -Be ([ValueTuple[int, int, int, int]]::new(5, 3, 10, 10))
    }

    It 'keeps the part locations of each image' {
        $ds = Import-ProtoPNetDataset $cub
        $parts = $ds.PartsOf(0)
        $parts.Count | Should -Be 2
        $parts[0].Name | Should -Be 'back'
        $parts[0].X, $parts[0].Y, $parts[0].Visible | Should -Be @(10, 12, $true)
        $parts[1].Visible | Should -BeFalse
    }

    It 'stops with DatasetMetadataMissing naming the missing file' {
        $broken = Join-Path $TestDrive 'cub-broken'
        $b = New-MiniCub $broken
        Remove-Item (Join-Path $b 'train_test_split.txt')
        { Import-ProtoPNetDataset $broken -Format Cub200 -ErrorAction Stop } |
            Should -Throw -ErrorId "DatasetMetadataMissing,$importId" -ExpectedMessage '*train_test_split.txt*'
    }
}

Describe 'Import-ProtoPNetDataset: Stanford Cars' {
    It 'reads the devkit .mat files: classes, splits, 1-based boxes' {
        $root = Join-Path $TestDrive 'cars'
        New-MiniCars $root
        $all = Import-ProtoPNetDataset $root
        $all.Format | Should -Be 'StanfordCars'
        $all.ClassNames | Should -Be $carClasses
        $all.Count | Should -Be 5
        $train = Import-ProtoPNetDataset $root -Split Train -CropToBoundingBox
        $train.Count | Should -Be 3
        ($train.Items | ForEach-Object Label) | Should -Be @(1, 0, 1)
        $box = $train.Items[0].BoundingBox
        $box.X, $box.Y, $box.Width, $box.Height | Should -Be @(2, 1, 20, 20)
        Test-SameBytes ($train.LoadRgb(0, 20).Item1) ([TestImages]::CropBytes($train.Items[0].Path, 2, 1, 20, 20)) | Should -BeTrue
        $test = Import-ProtoPNetDataset $root -Split Test
        $test.Count | Should -Be 2
        $test.SourceOf(0) | Should -BeLike '*cars_test*00001.jpg'
    }

    It 'stops with DatasetMetadataMissing when cars_meta.mat is gone' {
        $root = Join-Path $TestDrive 'cars-broken'
        New-MiniCars $root
        Remove-Item (Join-Path $root 'devkit/cars_meta.mat')
        { Import-ProtoPNetDataset $root -Format StanfordCars -ErrorAction Stop } |
            Should -Throw -ErrorId "DatasetMetadataMissing,$importId" -ExpectedMessage '*cars_meta.mat*'
    }

    It 'reads the CSV variant (names.csv, anno_train.csv, images in class folders)' {
        $root = Join-Path $TestDrive 'cars-csv'
        Set-Content (Join-Path $root 'names.csv') $carClasses -Force -ErrorAction SilentlyContinue
        New-Item -ItemType Directory -Force (Join-Path $root 'car_data/train/Acura RL Sedan 2012'), (Join-Path $root 'car_data/test/x') | Out-Null
        Set-Content (Join-Path $root 'names.csv') $carClasses
        [TestImages]::WriteJpeg((Join-Path $root 'car_data/train/Acura RL Sedan 2012/00007.jpg'), 30, 30, 7)
        [TestImages]::WriteJpeg((Join-Path $root 'car_data/test/x/00007.jpg'), 30, 30, 8)
        Set-Content (Join-Path $root 'anno_train.csv') '00007.jpg,2,3,21,22,2'
        Set-Content (Join-Path $root 'anno_test.csv') '00007.jpg,1,1,30,30,1'
        $train = Import-ProtoPNetDataset $root -Split Train
        $train.Format | Should -Be 'StanfordCars'
        $train.Count | Should -Be 1
        $train.ClassNames[$train.LabelOf(0)] | Should -Be 'Acura RL Sedan 2012'
        $train.SourceOf(0) | Should -BeLike '*train*00007.jpg'
        (Import-ProtoPNetDataset $root -Split Test).SourceOf(0) | Should -BeLike '*test*00007.jpg'
    }
}

Describe 'Import-ProtoPNetDataset: parameter checks' {
    It 'refuses <Case> with <Id>' -TestCases @(
        @{ Case = '-CropToBoundingBox on IDX files'; Id = 'NoBoundingBoxes'; Run = { Import-ProtoPNetDataset $sample -CropToBoundingBox -ErrorAction Stop } }
        @{ Case = '-NoProbe with -Verify'; Id = 'ConflictingParameters'; Run = { Import-ProtoPNetDataset $sample -NoProbe -Verify -ErrorAction Stop } }
        @{ Case = '-ClassName on a CUB folder'; Id = 'ClassNameNotApplicable'; Run = { Import-ProtoPNetDataset $crafted -Format Cub200 -ClassName a -ErrorAction Stop } }
        @{ Case = 'a folder that does not exist'; Id = 'DatasetNotFound'; Run = { Import-ProtoPNetDataset -LiteralPath (Join-Path $TestDrive 'nothing-here') -ErrorAction Stop } }
    ) {
        $Run | Should -Throw -ErrorId "$Id,$importId"
    }
}

Describe 'Split-ProtoPNetDataset' {
    It 'returns a stratified, seeded train part and validation part' {
        $ds = Import-ProtoPNetDataset $sample -Split Test
        $train, $validation = $ds | Split-ProtoPNetDataset -ValidationFraction 0.1 -Seed 1
        $train.Count | Should -Be 900
        $validation.Count | Should -Be 100
        $validation.Split | Should -Be 'Validation'
        $validation.CountPerClass() | Should -Be (@(10) * 10)
        $again = ($ds | Split-ProtoPNetDataset -ValidationFraction 0.1 -Seed 1)[1]
        $again.ParentIndices | Should -Be $validation.ParentIndices
    }
}

Describe 'Expand-ProtoPNetDataset' {
    BeforeAll {
        $script:source = Join-Path $TestDrive 'expand-source'
        foreach ($c in 'cat', 'dog') {
            New-Item -ItemType Directory -Force (Join-Path $source $c) | Out-Null
            foreach ($i in 1..2) { [TestImages]::WritePng((Join-Path $source "$c/$c$i.png"), 24, 18, $i) }
        }
        $script:sourceHashes = Get-ChildItem -Recurse -File $source | Get-FileHash | ForEach-Object Hash
        $script:ds = Import-ProtoPNetDataset $source
    }

    It 'writes the copies into a numbered class-folder tree and returns it as a data set' {
        $out = $ds | Expand-ProtoPNetDataset -Destination (Join-Path $TestDrive 'expanded1') -Copies 3 -Seed 1 -ImageFormat Png
        $out.ClassNames | Should -Be @('cat', 'dog')
        $out.Count | Should -Be 12
        Test-Path (Join-Path $TestDrive 'expanded1/001.cat/cat1_aug00.png') | Should -BeTrue
        Get-ChildItem -Recurse -File $source | Get-FileHash | ForEach-Object Hash | Should -Be $sourceHashes
    }

    It 'is deterministic for a seed and differs for another seed' {
        $null = $ds | Expand-ProtoPNetDataset -Destination (Join-Path $TestDrive 'expanded2') -Copies 3 -Seed 1 -ImageFormat Png
        $null = $ds | Expand-ProtoPNetDataset -Destination (Join-Path $TestDrive 'expanded3') -Copies 3 -Seed 2 -ImageFormat Png
        $h1 = Get-ChildItem -Recurse -File (Join-Path $TestDrive 'expanded1') | Get-FileHash | ForEach-Object Hash
        $h2 = Get-ChildItem -Recurse -File (Join-Path $TestDrive 'expanded2') | Get-FileHash | ForEach-Object Hash
        $h3 = Get-ChildItem -Recurse -File (Join-Path $TestDrive 'expanded3') | Get-FileHash | ForEach-Object Hash
        $h2 | Should -Be $h1
        ($h3 -join ',') | Should -Not -Be ($h1 -join ',')
    }

    It 'refuses a destination inside the source and a non-empty one without -Force' {
        { $ds | Expand-ProtoPNetDataset -Destination (Join-Path $source 'out') -Copies 1 -ErrorAction Stop } |
            Should -Throw -ErrorId 'DestinationInsideSource,ProtoPNet.PowerShell.ExpandProtoPNetDatasetCommand'
        { $ds | Expand-ProtoPNetDataset -Destination (Join-Path $TestDrive 'expanded1') -Copies 1 -ErrorAction Stop } |
            Should -Throw -ErrorId 'DestinationNotEmpty,ProtoPNet.PowerShell.ExpandProtoPNetDatasetCommand'
    }

    It 'expands IDX items to PNG class folders that keep the class order' {
        $tiny = (Import-ProtoPNetDataset $sample -Split Test | Split-ProtoPNetDataset -ValidationFraction 0.01 -Seed 1)[1]
        $tiny.Count | Should -Be 10
        $out = $tiny | Expand-ProtoPNetDataset -Destination (Join-Path $TestDrive 'fashion-expanded') -Copies 2 -Seed 1
        $out.Count | Should -Be 20
        $out.ClassNames[0] | Should -Be 'T-shirt_top'
        $out.ClassNames[9] | Should -Be 'Ankle boot'
        @(Get-ChildItem -Recurse -File (Join-Path $TestDrive 'fashion-expanded') -Filter *.png).Count | Should -Be 20
    }

    It 'writes nothing under -WhatIf' {
        $ds | Expand-ProtoPNetDataset -Destination (Join-Path $TestDrive 'whatif') -Copies 1 -WhatIf
        Test-Path (Join-Path $TestDrive 'whatif') | Should -BeFalse
    }
}
