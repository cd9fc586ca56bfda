@{
    Synopsis    = 'Stage 2: projects each prototype onto the nearest latent patch of a training image of its own class.'
    Description = @'
After push, every prototype is exactly a patch of a real training image: the source image, latent position, the 95th-percentile box in the image''s own pixels and the distance moved are recorded (Get-Prototype shows them). A prototype whose class has no image in the dataset is reported and left unchanged, never zeroed. The result reports how far prototypes moved and, with -ComparisonDataset, how many predictions the push changed (the paper''s Theorem 2.1 made visible). -OutputDirectory renders, per prototype, the source image with its box, the crop and the self-activation heat map.
'@
    Parameters  = @{
        Model     = 'The model; accepts pipeline input. Its prototypes are replaced in place.'
        Dataset   = 'The unaugmented push set (the training images).'
        BatchSize = 'Images per forward pass (authors: 75); memory is bounded by it.'
        PassThru  = 'Emit the model after the push result.'
    }
    Examples    = @(
        @{ Code = '$model | Invoke-PrototypePush -Dataset $push -ComparisonDataset $validation -OutputDirectory ./prototypes'; Remarks = 'Push, report changed predictions, and render every prototype.' }
    )
}
