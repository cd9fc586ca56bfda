@{
    Synopsis    = 'Stage 1: trains a ProtoPNet with the cluster and separation costs (warm epochs, then joint epochs).'
    Description = @'
Warm epochs train the add-on layers and prototypes with the backbone frozen (its batch-norm statistics too); joint epochs train backbone, add-on and prototypes together. The loss is CE + 0.8·Cluster − 0.08·Separation + 1e-4·L1 with Adam at the authors'' learning rates (backbone 1e-4, add-on and prototypes 3e-3, weight decay 1e-3, StepLR(5, 0.1) in the joint phase); every number can be overridden.

One result object per epoch (loss and each term, train and validation accuracy, seconds, images/s). With -ValidationDataset the epoch with the best validation accuracy is kept. With -CheckpointDirectory an atomic checkpoint is written after every epoch and -Resume continues from it, giving the same weights as an uninterrupted run. Ctrl+C stops between batches and leaves the model usable; a non-finite loss stops with NonFiniteLoss naming epoch and batch.
'@
    Parameters  = @{
        Model      = 'The model to train; accepts pipeline input. It is trained in place.'
        Dataset    = 'The training images.'
        WarmEpochs = 'Epochs with the backbone frozen (authors: 5).'
        BatchSize  = 'Images per step (authors: 80).'
        PassThru   = 'Emit the model after the epoch results, for the next stage of a pipeline.'
    }
    Examples    = @(
        @{ Code = '$model | Start-ProtoPNetTraining -Dataset $train -ValidationDataset $validation -WarmEpochs 5 -Epochs 10'; Remarks = 'The authors'' schedule; a table of epochs.' }
        @{ Code = '$model = $model | Start-ProtoPNetTraining -Dataset $train -Epochs 10 -CheckpointDirectory ./ckpt -PassThru | Select-Object -Last 1'; Remarks = 'Checkpoints after every epoch; run again with -Resume after an interruption.' }
    )
}
