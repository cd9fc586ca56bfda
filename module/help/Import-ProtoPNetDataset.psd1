@{
    Synopsis    = 'Reads a labelled image collection: an image folder, CUB-200-2011, Stanford Cars, or MNIST-style IDX files.'
    Description = @'
Returns a dataset object that every training, push, test and explanation cmdlet accepts. ImageFolder: one sub-folder per class, class names sorted ordinally, images recognized by content, not extension. Cub200: the CUB_200_2011 folder as distributed, with its official train/test split and optional bounding-box crop. StanfordCars: the devkit's .mat annotations or the common CSV variant. Idx: MNIST / Fashion-MNIST idx3/idx1 pairs, gzipped or not, decoded straight into memory.

Files that cannot be decoded are reported one by one as non-terminating errors (ImageDecodeFailed, UnsupportedImageFormat, ImageTooLarge, EmptyImageFile, ...) naming the file, and skipped; the rest of the data set is used and the skipped count is shown. A CUB or Cars folder missing a metadata file is a terminating error naming it (DatasetMetadataMissing).
'@
    Parameters  = @{
        Path        = 'The dataset folder (or IDX images file); wildcards allowed.'
        LiteralPath = 'The dataset folder (or IDX images file), taken literally.'
    }
    Examples    = @(
        @{ Code = '$train = Import-ProtoPNetDataset ./cub/train_cropped_augmented'; Remarks = 'An image folder: one sub-folder per class.' }
        @{ Code = '$test = Import-ProtoPNetDataset ./CUB_200_2011 -Format Cub200 -Split Test -CropToBoundingBox'; Remarks = 'CUB-200-2011 as distributed: the official test split (5,794 images), each cropped to its bird.' }
        @{ Code = '$fm = Import-ProtoPNetDataset /usr/share/datasets/fashion-mnist -Format Idx -Split Train'; Remarks = 'Fashion-MNIST from Debian''s dataset-fashion-mnist package (60,000 images, ready in memory).' }
    )
}
