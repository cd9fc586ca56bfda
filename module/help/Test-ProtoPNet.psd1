@{
    Synopsis    = 'Measures a model''s accuracy on a dataset: top-1, top-5, per class, and the confusion matrix.'
    Description = @'
Returns one result object with Accuracy, Top5Accuracy, Count, Top5Correct, per-class accuracy rows and the confusion matrix (rows: true class, columns: predicted class).

With -ShardIndex k -ShardCount n only the items i with i mod n = k are classified (round robin: the shards are disjoint, cover the data set, and depend only on its item count), and the result says which shard it covers. Merge-ProtoPNetTestResult adds the shards' counts and confusion matrices into the result of the whole data set, so n processes or hosts can share one test run.
'@
    Parameters  = @{
        Model     = 'The model (or ensemble); accepts pipeline input.'
        Dataset   = 'The images to classify (their labels are the truth).'
        BatchSize = 'Images per forward pass.'
        ShardIndex = 'Classify only shard k (0-based) of -ShardCount: the items i with i mod n = k.'
        ShardCount = 'How many shards the data set is split into (default 1: the whole data set).'
    }
    Examples    = @(
        @{ Code = '$model | Test-ProtoPNet -Dataset $test'; Remarks = 'Accuracy on the test set.' }
        @{ Code = '0..2 | ForEach-Object { $model | Test-ProtoPNet -Dataset $test -ShardIndex $_ -ShardCount 3 } | Merge-ProtoPNetTestResult'; Remarks = 'Three shards (e.g. on three hosts), merged: the same counts, confusion matrix and accuracies as one run over the whole data set.' }
        @{ Code = '($model | Test-ProtoPNet -Dataset $test).PerClass | Sort-Object Accuracy | Select-Object -First 5'; Remarks = 'The five hardest classes.' }
    )
}
