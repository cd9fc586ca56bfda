@{
    Synopsis    = 'Combines ProtoPNets over the same classes into an ensemble whose logits are the sum of theirs.'
    Description = @'
The members must share class names (in order), input size and normalization, otherwise EnsembleMismatch. Ensembles among the inputs are flattened. The ensemble works wherever a model is read: Get-Explanation explains it as one scoring sheet (the Model column names each prototype's member; all contributions add up to the ensemble's logit), Get-Prototype lists every member's prototypes, and Export-ProtoPNet stores it with all members in one file that Import-ProtoPNet loads back. Members are shared, not copied: changing a member changes the ensemble.
'@
    Parameters  = @{
        Model = 'Two or more models (or ensembles); accepts pipeline input.'
        Name  = 'The ensemble''s name (default: the members'' names joined by +).'
    }
    Examples    = @(
        @{ Code = '$ensemble = Join-ProtoPNet $vgg19, $resnet34, $densenet121 -Name birds3'; Remarks = 'The authors'' three-model ensemble.' }
        @{ Code = 'Import-ProtoPNet ./runs/*.ptpn | Join-ProtoPNet | Export-ProtoPNet ./ensemble.ptpn'; Remarks = 'Joins every saved model of a folder and saves the ensemble as one file.' }
    )
}
