@{
    Synopsis    = 'Writes the authors'' offline augmentation of a dataset into a new image folder.'
    Description = @'
For each image, writes -Copies (default 30) augmented copies as the authors did: rotation within ±15°, skew 0.2, shear within ±10°, each followed by a left-right flip with probability 0.5. Deterministic for a seed; the source is never modified. The result is an ordinary image folder for Import-ProtoPNetDataset.
'@
    Examples    = @(
        @{ Code = 'Import-ProtoPNetDataset ./cub/train_cropped | Expand-ProtoPNetDataset -Destination ./cub/train_cropped_augmented -Seed 1'; Remarks = 'The authors'' train_cropped_augmented set (30 copies per image).' }
    )
}
