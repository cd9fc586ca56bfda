@{
    Synopsis    = 'Loads models saved by Export-ProtoPNet.'
    Description = @'
Reads .ptpn files. The signature, format version, length and SHA-256 checksum are verified before anything is parsed: a truncated file (TruncatedModelFile), a corrupted one (CorruptModelFile), a file of another kind (NotAProtoPNetFile) or of a newer format (UnsupportedModelFileVersion) is reported as a non-terminating error and the next file is read.
'@
    Parameters  = @{
        Path        = 'Model files; wildcards allowed.'
        LiteralPath = 'Model files, taken literally; binds PSPath, so Get-ChildItem output pipes in.'
        Device      = 'Where to load the weights: cpu (default) or cuda.'
        PyTorchStateDict = 'A state dict saved by the authors'' PyTorch ProtoPNet code (features.*, add_on_layers.*, prototype_vectors, last_layer.weight, optionally prototype_class_identity). Backbone, add-on kind and prototype shape are inferred from the keys and shapes.'
        Backbone    = 'The backbone of the PyTorch state dict, when it cannot be inferred from its keys.'
        ImageSize   = 'The input size the PyTorch model was trained at (authors: 224).'
        ClassName   = 'Class names for the PyTorch model, in label order (default 0, 1, …).'
        Similarity  = 'The similarity the PyTorch model used: Log (authors'' default) or Linear.'
        PushRecords = 'The authors'' push records (bb<epoch>.npy) to attach as prototype provenance.'
        PushDataset = 'The push dataset the records index into (the same folder, in the same sorted order), so source images are named and boxes mapped to their own pixels.'
    }
    Examples    = @(
        @{ Code = '$model = Import-ProtoPNet ./bird.ptpn'; Remarks = 'Loads one model.' }
        @{ Code = 'Import-ProtoPNet -PyTorchStateDict ./saved_models/vgg19/003/10push0.7411-state.pth -ClassName $cub.ClassNames -PushRecords ./img/epoch-10/bb10.npy -PushDataset $push'; Remarks = 'Brings in a model trained with the authors'' Python code, with where its prototypes came from.' }
        @{ Code = 'Get-ChildItem ./runs/*.ptpn | Import-ProtoPNet | Format-Table Name, Backbone, PrototypeCount'; Remarks = 'Loads every model of a folder.' }
    )
}
