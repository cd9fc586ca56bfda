@{
    Synopsis    = 'Builds a new ProtoPNet image classifier: backbone, add-on layers, prototypes and last layer.'
    Description = @'
Builds a ProtoPNet (Chen et al., "This Looks Like That", NeurIPS 2019) with the authors' defaults: 10 prototypes per class of depth 128 and size 1×1, a Bottleneck add-on, log similarity log((d+1)/(d+1e-4)), and a last layer initialized to +1 for each prototype's own class and -0.5 for the others. The backbone's weights are random unless -Weights gives an ImageNet state dict.

The model carries its class names, input size and input normalization, so later cmdlets (training, push, explanation) need nothing else.
'@
    Parameters  = @{
        Backbone           = 'The convolutional feature extractor: vgg11/13/16/19 and their _bn variants, resnet18/34/50/101/152, densenet121/161/169/201, or smallcnn (a small CPU-friendly CNN with a fine latent grid, input/4, for 28×28 to 64×64 images). Tab completion lists them.'
        ClassName          = 'The class names, in label order.'
        ClassCount         = 'The number of classes, when names do not matter; the classes are named 0, 1, …'
        PrototypesPerClass = 'Prototypes per class (authors: 10).'
        PrototypeDepth     = 'Channels of each prototype and of the add-on output (authors: 128).'
        PrototypeSize      = 'Spatial size of each prototype in latent cells: 1 = 1×1 patches (authors), 2 = 2×2, …'
        AddOnLayers        = 'Bottleneck (halve the channels down to the prototype depth) or Regular (two 1×1 convolutions).'
        Similarity         = 'Log: log((d+1)/(d+1e-4)), the authors'' choice; Linear: -d.'
        ImageSize          = 'Side of the square model input in pixels (authors: 224). Images are resized to it.'
        Weights            = 'A backbone weights file: a torchvision state dict (.pth or .safetensors) or a TorchSharp .dat file. Names are matched exactly; a missing or misshaped tensor is refused, naming it.'
        Device             = 'cpu (default) or cuda / cuda:N on a CUDA build (build.ps1 -Cuda).'
        Seed               = 'Seeds the initialization, for reproducible models.'
        Name               = 'A name for the model, shown in explanations of ensembles. Default: <backbone>-protopnet.'
    }
    Examples    = @(
        @{ Code = 'New-ProtoPNet -Backbone resnet34 -ClassCount 200'; Remarks = 'The authors'' CUB-200 configuration: 2,000 prototypes, 224×224 input.' }
        @{ Code = 'New-ProtoPNet -Backbone smallcnn -ClassName T-shirt, Trouser, Pullover -ImageSize 28 -Seed 1'; Remarks = 'A small model for 28×28 images that trains quickly on a CPU.' }
        @{ Code = 'New-ProtoPNet -Backbone resnet18 -Weights ./resnet18-f37072fd.pth -ClassName (Get-ChildItem ./train -Directory).Name'; Remarks = 'An ImageNet-initialized backbone from a torchvision weights file.' }
    )
}
