BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../ProtoPNet.psd1') -Force
    # Creating a model loads TorchSharp, whose types the dataset helper below needs.
    $null = New-ProtoPNet -Backbone smallcnn -ClassCount 2 -ImageSize 16 -PrototypeDepth 8

    function New-TestDataset([int] $Count, [string[]] $Classes, [int] $Seed = 1, [string] $Name = 'synthetic') {
        $null = [TorchSharp.torch]::manual_seed($Seed)
        $images = [TorchSharp.torch]::rand([long[]]@($Count, 3, 16, 16))
        $labels = [int[]]@(0..($Count - 1) | ForEach-Object { $_ % $Classes.Count })
        [ProtoPNet.Data.TensorDataset]::new($Name, $images, $labels, $Classes)
    }
    function New-TestModel { New-ProtoPNet -Backbone smallcnn -ClassName a, b -PrototypesPerClass 2 -ImageSize 16 -PrototypeDepth 16 -Seed 3 }
    $script:data = New-TestDataset -Count 12 -Classes a, b
    $script:temp = Join-Path ([IO.Path]::GetTempPath()) ("ptpn-pester-" + [guid]::NewGuid().ToString('N'))
}

AfterAll {
    if (Test-Path $script:temp) { Remove-Item -Recurse -Force $script:temp }
}

Describe 'Start-ProtoPNetTraining' {
    It 'emits one epoch result per epoch with the named loss terms' {
        $results = @(New-TestModel | Start-ProtoPNetTraining -Dataset $data -BackboneEpochs 0 -ValidationDataset $data -WarmEpochs 1 -Epochs 2 -BatchSize 4 -Seed 1 -Threads 1)
        $results.Count | Should -Be 3
        $results[0] | Should -BeOfType ([ProtoPNet.Training.TrainingEpochResult])
        $results.Phase | Should -Be @('Warm', 'Joint', 'Joint')
        foreach ($name in 'Epoch', 'Phase', 'Loss', 'CrossEntropy', 'Cluster', 'Separation', 'L1', 'TrainAccuracy', 'ValidationAccuracy', 'Seconds', 'ImagesPerSecond') {
            $results[0].PSObject.Properties.Name | Should -Contain $name
        }
        $results | ForEach-Object { [math]::Abs($_.Loss - ($_.CrossEntropy + 0.8 * $_.Cluster - 0.08 * $_.Separation + 1e-4 * $_.L1)) | Should -BeLessThan 1e-4 }
    }

    It 'with -PassThru emits only the model, which flows into push and last layer' {
        $model = New-TestModel
        $out = @($model | Start-ProtoPNetTraining -Dataset $data -BackboneEpochs 0 -WarmEpochs 1 -Epochs 0 -BatchSize 4 -PassThru -InformationVariable info |
                 Invoke-PrototypePush -Dataset $data -NoPrune -PassThru | Optimize-LastLayer -Dataset $data -MaxIterations 200 -WarningAction SilentlyContinue -PassThru)
        $out.Count | Should -Be 1
        [object]::ReferenceEquals($out[0], $model) | Should -BeTrue
        @($info | Where-Object { $_.Tags -contains 'TrainingEpoch' }).Count | Should -Be 1
        ($model | Get-Prototype | Where-Object SourceImage).Count | Should -Be 4
        $model.History.Stage | Should -Contain 'LastLayer'
    }

    It 'runs the backbone epochs for a random backbone also when -WarmEpochs and -Epochs are given, and says so' {
        $out = @(New-TestModel | Start-ProtoPNetTraining -Dataset $data -WarmEpochs 1 -Epochs 1 -BatchSize 4 -Seed 1 -Threads 1 -WarningAction SilentlyContinue -Verbose 4>&1)
        $epochs = $out | Where-Object { $_ -is [ProtoPNet.Training.TrainingEpochResult] }
        $epochs.Phase | Should -Be @('Backbone', 'Backbone', 'Backbone', 'Warm', 'Joint')
        ($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message | Should -Contain 'Schedule: 3 backbone epochs (the backbone starts from random weights; -BackboneEpochs 0 turns them off), 1 warm, 1 joint.'
        # A model whose backbone has trained gets none.
        $trained = New-TestModel
        $null = $trained | Start-ProtoPNetTraining -Dataset $data -BackboneEpochs 0 -WarmEpochs 0 -Epochs 1 -BatchSize 4 -Seed 1 -Threads 1 -WarningAction SilentlyContinue
        (@($trained | Start-ProtoPNetTraining -Dataset $data -WarmEpochs 0 -Epochs 1 -BatchSize 4 -Seed 1 -Threads 1 -WarningAction SilentlyContinue).Phase) | Should -Be @('Joint')
    }

    It 'caches the frozen backbone in warm epochs, and with -WarmBatchNorm Train trains its BatchNorm statistics instead' {
        $frozen = @(New-TestModel | Start-ProtoPNetTraining -Dataset $data -BackboneEpochs 0 -WarmEpochs 2 -Epochs 0 -BatchSize 4 -Seed 1 -Threads 1 -WarningAction SilentlyContinue)
        $frozen.BackboneCached | Should -Be @($true, $true)
        $model = New-TestModel
        $before = $model.Network.Backbone.state_dict()['features.bn1.running_mean'].clone()
        $trained = @($model | Start-ProtoPNetTraining -Dataset $data -BackboneEpochs 0 -WarmEpochs 2 -Epochs 0 -BatchSize 4 -Seed 1 -Threads 1 -WarmBatchNorm Train -WarningAction SilentlyContinue)
        $trained.BackboneCached | Should -Be @($false, $false)
        $model.Network.Backbone.state_dict()['features.bn1.running_mean'].sub($before).abs().max().item[float]() | Should -BeGreaterThan 0
    }

    It 'trains with -Precision BFloat16 and leaves a float32 model that runs in float32' {
        $reference = New-TestModel
        $mixed = New-TestModel
        $a = @($reference | Start-ProtoPNetTraining -Dataset $data -BackboneEpochs 0 -WarmEpochs 1 -Epochs 2 -BatchSize 4 -Seed 1 -Threads 1 -WarningAction SilentlyContinue)
        $b = @($mixed | Start-ProtoPNetTraining -Dataset $data -BackboneEpochs 0 -WarmEpochs 1 -Epochs 2 -BatchSize 4 -Seed 1 -Threads 1 -Precision BFloat16 -WarningAction SilentlyContinue)
        $b.Count | Should -Be 3
        $b[-1].Loss | Should -Not -Be $a[-1].Loss                     # the bfloat16 path ran
        [math]::Abs($b[-1].Loss / $a[-1].Loss - 1) | Should -BeLessThan 0.1
        $mixed.Network.BackbonePrecision | Should -Be 'Float32'
        @($mixed.Network.parameters() | Where-Object { $_.dtype -ne [TorchSharp.torch+ScalarType]::Float32 }).Count | Should -Be 0
    }

    It 'refuses a dataset whose classes differ from the model''s with ClassMismatch' {
        $other = New-TestDataset -Count 4 -Classes cat, dog
        { New-TestModel | Start-ProtoPNetTraining -Dataset $other -WarmEpochs 1 -Epochs 0 -ErrorAction Stop } |
            Should -Throw -ErrorId 'ClassMismatch,ProtoPNet.PowerShell.StartProtoPNetTrainingCommand'
    }

    It 'refuses -Resume without -CheckpointDirectory' {
        { New-TestModel | Start-ProtoPNetTraining -Dataset $data -Resume -ErrorAction Stop } |
            Should -Throw -ErrorId 'ResumeNeedsCheckpointDirectory,ProtoPNet.PowerShell.StartProtoPNetTrainingCommand'
    }

    It 'writes a checkpoint every epoch and -Resume continues after the last completed epoch' {
        $dir = Join-Path $temp 'checkpoints'
        $null = New-TestModel | Start-ProtoPNetTraining -Dataset $data -BackboneEpochs 0 -WarmEpochs 1 -Epochs 1 -BatchSize 4 -Seed 2 -CheckpointDirectory $dir
        Test-Path (Join-Path $dir 'checkpoint.ptck') | Should -BeTrue
        $more = @(New-TestModel | Start-ProtoPNetTraining -Dataset $data -BackboneEpochs 0 -WarmEpochs 1 -Epochs 2 -BatchSize 4 -Seed 2 -CheckpointDirectory $dir -Resume)
        $more.Epoch | Should -Be @(3)
        @(Get-ChildItem $dir).Count | Should -Be 1
    }
}

Describe 'Invoke-PrototypePush' {
    It 'reports moved distances and writes the prototype pictures' {
        $model = New-TestModel
        $out = Join-Path $temp 'push'
        $result = $model | Invoke-PrototypePush -Dataset $data -NoPrune -OutputDirectory $out -ComparisonDataset $data
        $result.Pushed | Should -Be 4
        $result.Prototypes.Count | Should -Be 4
        $result.DistinctPatches | Should -Be ($result.Pushed - @($result.Prototypes | Where-Object { $null -ne $_.SamePatchAs }).Count)
        ($result | Format-List | Out-String) | Should -Match 'Pushed\s+: 4 of 4 prototypes'
        $result.ComparisonCount | Should -Be 12
        $result.PredictionsChanged | Should -BeGreaterOrEqual 0
        @(Get-ChildItem $out -Filter *.png).Count | Should -Be 12
        ($model | Get-Prototype)[0].SourceImage | Should -Match '^synthetic#\d+$'
    }

    It 'starts from the backbone features a warm-only training kept, and gives the same prototypes as from the images' {
        $model = New-TestModel
        $null = $model | Start-ProtoPNetTraining -Dataset $data -BackboneEpochs 0 -WarmEpochs 1 -Epochs 0 -BatchSize 4 -Seed 1 -Threads 1 -WarningAction SilentlyContinue
        $file = Join-Path $temp 'warm.ptpn'
        New-Item -ItemType Directory -Force $temp | Out-Null
        $model | Export-ProtoPNet -LiteralPath $file
        $kept = $model | Invoke-PrototypePush -Dataset $data -NoPrune
        $kept.FromKeptFeatures | Should -BeTrue
        $fromImages = Import-ProtoPNet -LiteralPath $file | Invoke-PrototypePush -Dataset $data -NoPrune
        $fromImages.FromKeptFeatures | Should -BeFalse
        $kept.Prototypes.SourceIndex | Should -Be $fromImages.Prototypes.SourceIndex
        $kept.Prototypes.Distance | Should -Be $fromImages.Prototypes.Distance
        # A joint epoch changes the backbone: the next push reads the images.
        $null = $model | Start-ProtoPNetTraining -Dataset $data -WarmEpochs 0 -Epochs 1 -BatchSize 4 -Seed 1 -Threads 1 -WarningAction SilentlyContinue
        ($model | Invoke-PrototypePush -Dataset $data).FromKeptFeatures | Should -BeFalse
    }

    It 'prunes by default the prototypes that are not parts of their class, never the last of a class; -NoPrune keeps all' {
        # Every image is labelled 'a': the prototypes of b and c find no nearest patch of their class.
        $images = [TorchSharp.torch]::rand([long[]]@(8, 3, 16, 16))
        $onlyA = [ProtoPNet.Data.TensorDataset]::new('only-a', $images, [int[]]@(0) * 8, [string[]]@('a', 'b', 'c'))
        $new = { New-ProtoPNet -Backbone smallcnn -ClassName a, b, c -PrototypesPerClass 2 -ImageSize 16 -PrototypeDepth 16 -Seed 5 }
        $kept = & $new
        ($kept | Invoke-PrototypePush -Dataset $onlyA -NoPrune).Kept | Should -Be 6
        $kept.PrototypeCount | Should -Be 6

        $model = & $new
        $out = @($model | Invoke-PrototypePush -Dataset $onlyA -Verbose 4>&1)
        $result = $out | Where-Object { $_ -is [ProtoPNet.Projection.PushResult] }
        $verbose = $out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $result.Removed.Count | Should -BeGreaterOrEqual 2
        $result.Kept | Should -Be $model.PrototypeCount
        $model.PrototypeCount | Should -Be (6 - $result.Removed.Count)
        # b and c keep one prototype each, the one the last-of-class rule names.
        ($model.PrototypeClass | Sort-Object -Unique) | Should -Be @(0, 1, 2)
        @($model.PrototypeClass | Where-Object { $_ -eq 1 }).Count | Should -Be 1
        @($model.PrototypeClass | Where-Object { $_ -eq 2 }).Count | Should -Be 1
        ($verbose.Message | Where-Object { $_ -like 'Keep prototype * kept as the last prototype of class*' }).Count | Should -Be 2
        $model.History.Stage | Should -Contain 'Prune'
        ($result | Format-List | Out-String) | Should -Match "Pruned\s+: $($result.Removed.Count) not parts of their class"
    }

    It 'refuses a push set with other classes with ClassMismatch' {
        $other = New-TestDataset -Count 4 -Classes x, y
        { New-TestModel | Invoke-PrototypePush -Dataset $other -ErrorAction Stop } |
            Should -Throw -ErrorId 'ClassMismatch,ProtoPNet.PowerShell.InvokePrototypePushCommand'
    }
}

Describe 'Optimize-LastLayer' {
    It 'solves to the tolerance and reports sparsity and accuracy' {
        $r = New-TestModel | Optimize-LastLayer -Dataset $data -Lambda 0.01 -Tolerance 1e-4
        $r.Converged | Should -BeTrue
        $r.Optimality | Should -BeLessOrEqual 1e-4
        $r.WrongClassSparsity | Should -BeGreaterOrEqual 0
        $r.Count | Should -Be 12
        $r.Method | Should -Be 'Newton'
    }

    It 'selects the first-order solve with -Method Fista, which cannot beat the default Newton solve' {
        $newton = New-TestModel | Optimize-LastLayer -Dataset $data -Lambda 0.01 -Tolerance 1e-7
        $fista = New-TestModel | Optimize-LastLayer -Dataset $data -Lambda 0.01 -Tolerance 1e-7 -Method Fista -MaxIterations 500 -WarningAction SilentlyContinue
        $newton.Method | Should -Be 'Newton'
        $newton.Converged | Should -BeTrue
        $newton.Optimality | Should -BeLessOrEqual 1e-7
        $fista.Method | Should -Be 'Fista'
        $fista.Iterations | Should -BeLessOrEqual 500
        $fista.Objective | Should -BeGreaterOrEqual ($newton.Objective - 1e-9)
    }

    It 'runs the authors'' Adam passes with -Method Adam' {
        $r = New-TestModel | Optimize-LastLayer -Dataset $data -Method Adam -Passes 2 -BatchSize 6
        $r.Method | Should -Be 'Adam'
        $r.Iterations | Should -Be 4
    }

    It 'refuses -Passes without -Method Adam' {
        { New-TestModel | Optimize-LastLayer -Dataset $data -Passes 3 -ErrorAction Stop } |
            Should -Throw -ErrorId 'ParameterNeedsAdam,ProtoPNet.PowerShell.OptimizeLastLayerCommand'
    }
}

Describe 'Test-ProtoPNet' {
    It 'reports accuracy, top-5, per-class rows and the confusion matrix' {
        $r = New-TestModel | Test-ProtoPNet -Dataset $data
        $r.Count | Should -Be 12
        $r.Top5Accuracy | Should -Be 1
        $r.PerClass.Count | Should -Be 2
        ($r.PerClass | Measure-Object -Property Count -Sum).Sum | Should -Be 12
        $r.Confusion[0, 0] + $r.Confusion[1, 1] | Should -Be ([int][math]::Round($r.Accuracy * 12))
    }

    It 'tests with -Precision BFloat16 for that run only, agreeing with float32 on all but near-ties' {
        $model = New-TestModel
        $reference = $model | Test-ProtoPNet -Dataset $data
        $mixed = $model | Test-ProtoPNet -Dataset $data -Precision BFloat16
        $mixed.Count | Should -Be 12
        [math]::Abs($mixed.Accuracy - $reference.Accuracy) | Should -BeLessOrEqual (2 / 12)
        $model.Network.BackbonePrecision | Should -Be 'Float32'
    }

    It 'refuses a dataset with other classes with ClassMismatch' {
        $other = New-TestDataset -Count 4 -Classes a, c
        { New-TestModel | Test-ProtoPNet -Dataset $other -ErrorAction Stop } |
            Should -Throw -ErrorId 'ClassMismatch,ProtoPNet.PowerShell.TestProtoPNetCommand'
    }
}
