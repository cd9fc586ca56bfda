@{
    Synopsis    = 'Splits a dataset into training and validation parts, stratified by class and seeded.'
    Description = @'
Returns two datasets, training then validation, each class split in the same proportion. Model selection (Start-ProtoPNetTraining -ValidationDataset) should use the validation part, never the test set.
'@
    Examples    = @(
        @{ Code = '$train, $validation = Import-ProtoPNetDataset ./train | Split-ProtoPNetDataset -ValidationFraction 0.1 -Seed 1'; Remarks = '10 % of each class held out for model selection.' }
    )
}
