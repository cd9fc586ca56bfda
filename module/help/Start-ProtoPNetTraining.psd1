@{
    Synopsis    = 'Stage 1: trains a ProtoPNet with the cluster and separation costs (backbone epochs from scratch, warm epochs, then joint epochs).'
    Description = @'
Warm epochs train the add-on layers and prototypes with the backbone frozen (its batch-norm statistics too); joint epochs train backbone, add-on and prototypes together. The loss is CE + 0.8·Cluster − 0.08·Separation + 1e-4·L1 with Adam; every number can be overridden.

The defaults depend on the backbone. When it holds learned weights (New-ProtoPNet -Weights, the resnet18-imagenet backbone, an imported PyTorch model, or a model that went through this stage before) they are the authors': 5 warm and 10 joint epochs, batch 80, backbone 1e-4, add-on and prototypes 3e-3, weight decay 1e-3, StepLR(5, 0.1). When it starts from random weights the authors' settings fail on small-part tasks (a frozen random backbone gives the warm phase nothing to learn from, and the cluster cost then pulls every patch onto the prototypes), so the defaults become: 3 backbone epochs (also when -WarmEpochs or -Epochs are given: the backbone phase follows the backbone; -BackboneEpochs 0 turns it off) (the backbone learns as a classifier with a global max pool and a linear head that is thrown away afterwards, Adam 3e-3), then 10 warm epochs (cheap: the frozen backbone's output is cached) and 4 joint epochs with the backbone at 1e-3, batch 32. On a planted-part set (8 classes decided by a 14-px glyph at a random place in 64-px images) this reaches 99.8 % test accuracy in under 5 minutes on 2 cores, where the authors' settings stay at chance. -Verbose names the recipe used. A run whose last epoch is at chance ends with a warning naming the likely cause.

One result object per epoch (loss and each term, train and validation accuracy, seconds, images/s). With -ValidationDataset the epoch with the best validation accuracy is kept. With -CheckpointDirectory an atomic checkpoint is written after every epoch and -Resume continues from it, giving the same weights as an uninterrupted run. Ctrl+C stops between batches and leaves the model usable; a non-finite loss stops with NonFiniteLoss naming epoch and batch.
'@
    Parameters  = @{
        Model      = 'The model to train; accepts pipeline input. It is trained in place.'
        Dataset    = 'The training images.'
        BackboneEpochs = 'Epochs that pretrain the backbone as a plain classifier before the warm epochs (default: 3 when the backbone starts from random weights, whatever -WarmEpochs and -Epochs say; 0 when it holds learned weights). -Verbose names the schedule that ran.'
        WarmEpochs = 'Epochs with the backbone frozen (default: 5, the authors'', with learned weights; 10 from random weights).'
        Epochs     = 'Joint epochs (default: 10 with learned weights, 4 from random weights).'
        BatchSize  = 'Images per step (default: 80, the authors'', with learned weights; 32 from random weights).'
        BackboneLearningRate = 'Adam learning rate of the backbone (default: 1e-4 with learned weights; from random weights 3e-3 in the backbone epochs and 1e-3 in the joint epochs).'
        PassThru   = 'Emit the model after the epoch results, for the next stage of a pipeline.'
    }
    Examples    = @(
        @{ Code = '$model | Start-ProtoPNetTraining -Dataset $train -ValidationDataset $validation -WarmEpochs 5 -Epochs 10'; Remarks = 'The authors'' schedule; a table of epochs.' }
        @{ Code = '$model = $model | Start-ProtoPNetTraining -Dataset $train -Epochs 10 -CheckpointDirectory ./ckpt -PassThru | Select-Object -Last 1'; Remarks = 'Checkpoints after every epoch; run again with -Resume after an interruption.' }
        @{ Code = '$model | Start-ProtoPNetTraining -Dataset $train -WarmEpochs 5 -Epochs 10 -Precision BFloat16'; Remarks = 'The backbone''s convolutions in bfloat16 from float32 master weights: a faster joint epoch on some CPUs with native bfloat16 (AVX-512 BF16, AMX; 1.4-1.5x on one machine, 0.8x on another: measure it); the model stays float32. Measured on Fashion-MNIST (README, Figures): the same final accuracy, a larger drop at push.' }
    )
}
