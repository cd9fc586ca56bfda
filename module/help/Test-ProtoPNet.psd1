@{
    Synopsis    = 'Measures a model''s accuracy on a dataset: top-1, top-5, per class, and the confusion matrix.'
    Description = @'
Returns one result object with Accuracy, Top5Accuracy, Count, per-class accuracy rows and the confusion matrix (rows: true class, columns: predicted class).
'@
    Parameters  = @{
        Model     = 'The model (or ensemble); accepts pipeline input.'
        Dataset   = 'The images to classify (their labels are the truth).'
        BatchSize = 'Images per forward pass.'
    }
    Examples    = @(
        @{ Code = '$model | Test-ProtoPNet -Dataset $test'; Remarks = 'Accuracy on the test set.' }
        @{ Code = '($model | Test-ProtoPNet -Dataset $test).PerClass | Sort-Object Accuracy | Select-Object -First 5'; Remarks = 'The five hardest classes.' }
    )
}
