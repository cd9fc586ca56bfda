@{
    Synopsis    = 'Combines the Test-ProtoPNet results of the shards of a data set into the result of the whole data set.'
    Description = @'
Test-ProtoPNet -ShardIndex k -ShardCount n classifies shard k of n (the items i with i mod n = k). Merge-ProtoPNetTestResult adds the shards' counts, top-5 counts and confusion matrices and recomputes Accuracy, Top5Accuracy and the per-class accuracies from them, so the merged result equals the one a single run over the whole data set gives (Seconds is the sum of the shards' times). The results must be of the same model (name), data set (name), classes and shard count, and no shard may come twice (error ShardMergeMismatch). When shards are missing, the result says so in Missing and MergedShards and a warning names them; with -Complete that is an error (ShardsMissing).

Deserialized copies of results (from Invoke-Command on another host, or Import-Clixml) merge too: they are rebuilt from their counts and the confusion matrix, which serialization turns into its elements in row-major order.
'@
    Parameters  = @{
        InputObject = 'Results of Test-ProtoPNet with -ShardIndex and -ShardCount, or their deserialized copies; accepts pipeline input.'
        Complete    = 'Stop with the error ShardsMissing unless every shard 0 … n−1 is present (default: a warning).'
    }
    Examples    = @(
        @{ Code = '0..3 | ForEach-Object { $model | Test-ProtoPNet -Dataset $test -ShardIndex $_ -ShardCount 4 } | Merge-ProtoPNetTestResult -Complete'; Remarks = 'Four shards merged: the counts, confusion matrix and accuracies of one run over $test.' }
        @{ Code = '$parts = Invoke-Command -Session $s0, $s1 { Import-Module ProtoPNet.PS; Import-ProtoPNet ./m.ptpn | Test-ProtoPNet -Dataset (Import-ProtoPNetDataset ./test -Format Idx -Split Test) -ShardIndex $using:k -ShardCount 2 }'; Remarks = 'Shards tested on two hosts (one $k per session in practice); $parts | Merge-ProtoPNetTestResult merges the deserialized results.' }
    )
}
