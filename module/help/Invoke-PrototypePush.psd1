@{
    Synopsis    = 'Stage 2: projects each prototype onto the nearest latent patch of a training image of its own class, then prunes the prototypes that are not parts of their class.'
    Description = @'
After push, every prototype is exactly a patch of a real training image: the source image, latent position, the 95th-percentile box in the image's own pixels and the distance moved are recorded (Get-Prototype shows them). A prototype whose class has no image in the dataset is reported and left unchanged, never zeroed. The result reports how far prototypes moved and, with -ComparisonDataset, how many predictions the push changed (the paper's Theorem 2.1 made visible). -OutputDirectory renders, per prototype, the source image with its box, the crop and the self-activation heat map (encoded on all cores; written atomically but not flushed to disk one by one).

Several prototypes of a class can find the same nearest patch: they become the same vector. The result's DistinctPatches counts the patches the pushed prototypes landed on, and each such prototype's SamePatchAs names the lowest-numbered prototype on its patch.

Then push prunes (unless -NoPrune): a prototype whose 6 nearest training patches (one per image) hold fewer than 3 of its class is removed (the authors' pruning rule: such prototypes are background or parts every class has), and so is a prototype on the same patch as a lower-numbered one (merged into it); a class never loses its last prototype. Without this, most of a class's ten prototypes settle on background or distractors (on a planted-part set where one glyph decides the class: 36 of 80 pushed prototypes on the glyph); with it, the prototypes that stay are the parts that decide (docs/benchmarks.md). The decisions go to the verbose stream, the removed indices to the result's Removed (indices before pruning), and the model's history records a Prune line. Optimize the last layer next. Invoke-PrototypePruning applies the authors' rule alone, with other K and Threshold.

-Search Shortlist trades certainty for speed: a bfloat16 copy of the backbone and add-on passes over the push set and keeps, per prototype, the 8 images whose patches come nearest (fewer per prototype beyond 256 prototypes); the exact search then runs over the shortlisted images only. Pushed prototypes are still exact latent patches of real images; they are the nearest ones whenever each prototype's nearest image made its shortlist. On CPUs with AVX-512 BF16 the bfloat16 pass took about half the time of a float32 one on one machine and longer than it on another (README, Platform notes): time both on yours. The result's ShortlistCount says how many images the exact search saw.

After Start-ProtoPNetTraining whose last epochs left the backbone frozen (warm-only training, e.g. on a fixed pretrained backbone), the model keeps the frozen backbone's output over the training set. A push over that same dataset object then runs only the add-on over it: the same prototypes bit for bit, at a fraction of the time (README, Figures). The result's FromKeptFeatures says so; -Search Shortlist then runs the exact search, the faster one there. Any change to the backbone's weights or statistics, another dataset, a joint epoch or -NoFeatureCache makes push read the images (and the model let go of the kept features).
'@
    Parameters  = @{
        Model     = 'The model; accepts pipeline input. Its prototypes are replaced in place.'
        Dataset   = 'The unaugmented push set (the training images).'
        BatchSize = 'Images per forward pass (authors: 75); memory is bounded by it.'
        PassThru  = 'Emit the model after the push result.'
        Search    = 'Exact (default) or Shortlist: a bfloat16 pass shortlists candidate images, then the exact search runs over them.'
        NoPrune   = 'Keep every prototype: no pruning after the push.'
    }
    Examples    = @(
        @{ Code = '$model | Invoke-PrototypePush -Dataset $push -ComparisonDataset $validation -OutputDirectory ./prototypes'; Remarks = 'Push, report changed predictions, and render every prototype.' }
        @{ Code = '$model | Invoke-PrototypePush -Dataset $push -Search Shortlist | Select-Object Pushed, ShortlistCount, ImageCount, Seconds'; Remarks = 'The faster search: exact over the images a bfloat16 pass shortlisted.' }
        @{ Code = '$model | Invoke-PrototypePush -Dataset $push -Verbose | Select-Object Pushed, Removed, Kept'; Remarks = 'Which prototypes the pruning removed, and why (verbose).' }
    )
}
