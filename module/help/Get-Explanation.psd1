@{
    Synopsis    = 'Explains classifications: which parts of each image look like which prototypes, and how many points each adds to the class.'
    Description = @'
One flat row per (image, evidence item), ready for Export-Csv: ImagePath, PredictedClass, Probability, Logit, TrueClass (dataset input), Rank, Model, PrototypeIndex, PrototypeClass, Similarity, Distance, Weight, Contribution (= Similarity × Weight), BoxX/BoxY/BoxWidth/BoxHeight (where the prototype matched, in the input image's own pixels, through any dataset crop and the resize: by -BoxMethod, the input window the best-matching latent patch sees (ReceptiveField, the default) or the paper's 95th-percentile box of the upsampled activation map (Percentile)), PrototypeImage and PrototypeBox* (where the prototype came from at push, by the same method; empty before push). BoxMethod names the method. Further columns: ImageIndex, ExplainedClass and ExplainedLogit (the class the contributions add up to), LatentRow/LatentColumn (the nearest latent patch), ReceptiveField and ReceptiveFieldX/Y/Width/Height (the input window that patch sees, in the image's pixels: a box is only as local as this window) and ScoringSheet.

Rows are ranked by contribution to the predicted class (or to -Class); with -Top 0 every prototype is listed and the contributions add up to the logit (the last layer has no bias). With -Nearest the ranking is by similarity over all prototypes of any class: the image's nearest prototypes. An ensemble (Join-ProtoPNet) is explained as one sheet: Model names the member each prototype belongs to, and the contributions of all members add up to the ensemble's logit.

ImageIndex is a data set item's index in its data set (also with -Index and -ShardIndex), and a file's position in the input. With -ShardIndex k -ShardCount n only the data set items i with i mod n = k are explained (round robin; together with -Index: those of its items): the shards are disjoint, cover the data set and depend only on its item count, so the rows of n shards, concatenated and sorted by ImageIndex and Rank, are the rows of one run over the whole data set. scripts/Invoke-DistributedExplanation.ps1 runs the shards on several hosts over PowerShell remoting.

Images are read in batches (-BatchSize) and explained in input order. A missing file gives an ImageNotFound error (ObjectNotFound), an undecodable one ImageDecodeFailed or UnsupportedImageFormat; the other images are explained. Several Get-Explanation calls may share one model, e.g. from ForEach-Object -Parallel: forward passes take turns on the model's lock, so the results are the same as sequential ones.

With -OutputDirectory, each image also gets an HTML scoring sheet in the spirit of the paper's Figure 3: the predicted class and the runner-up, a row per prototype with the image and the box, the prototype patch, the training image it came from (both sides draw the box of -BoxMethod, the one BoxX… and PrototypeBoxX… give, and the page says which), the activation map, similarity, weight and points, the other prototypes' points and the class total (the logit). Pictures are PNG files beside the page, referenced by relative paths, so the folder opens offline in any browser; index.html links all sheets.
'@
    Parameters  = @{
        Path           = 'Image files (PNG, JPEG, BMP, GIF, WebP); wildcards allowed; accepts pipeline input.'
        LiteralPath    = 'Image files, taken literally; binds PSPath, so Get-ChildItem output pipes in.'
        Dataset        = 'Explain the items of a dataset (Import-ProtoPNetDataset) instead of files; TrueClass is filled.'
        Index          = 'Only these dataset items.'
        ShardIndex     = 'Explain only shard k (0-based) of -ShardCount: the dataset items i with i mod n = k.'
        ShardCount     = 'How many shards the dataset is split into (default 1: all items).'
        Model          = 'A model, or an ensemble from Join-ProtoPNet.'
        Top            = 'Rows per image (default 10); 0 = every prototype.'
        Class          = 'Explain this class instead of the predicted one: Weight, Contribution and ExplainedLogit refer to it.'
        Nearest        = 'Rank by similarity over all prototypes of any class (the image''s nearest prototypes) instead of by contribution.'
        OutputDirectory = 'Also write a scoring sheet (HTML + PNG) per image and index.html into this folder.'
        PushDataset    = 'The push dataset, to draw prototypes whose source image is an item of a container file (IDX).'
        BatchSize      = 'Images per forward pass (default 32).'
        BoxMethod      = 'ReceptiveField (default): the exact input window of the best-matching latent patch, which is all the similarity depends on. Percentile: the paper''s box, the smallest box holding the top 5 % of the bicubic-upsampled activation map. On a planted-part set the receptive-field box points at the deciding part far more often (README, "Explanations that point").'
    }
    Examples    = @(
        @{ Code = 'Get-ChildItem ./test/*.jpg | Get-Explanation -Model $model -Top 5 | Export-Csv explanations.csv'; Remarks = 'The five strongest pieces of evidence per image, as CSV.' }
        @{ Code = 'Get-Explanation ./bird.jpg -Model $model -Top 3 -OutputDirectory ./sheets'; Remarks = 'Writes ./sheets/00000-bird.html: the scoring sheet of the predicted class and the runner-up.' }
        @{ Code = '$rows = Get-Explanation ./bird.jpg -Model $model -Top 0; ($rows | Measure-Object Contribution -Sum).Sum - $rows[0].Logit'; Remarks = 'All prototypes'' contributions add up to the logit (prints about 0).' }
        @{ Code = 'Get-Explanation -Dataset $test -Model (Join-ProtoPNet $a, $b) | Where-Object { $_.PredictedClass -ne $_.TrueClass }'; Remarks = 'Evidence behind an ensemble''s mistakes.' }
        @{ Code = 'Get-Explanation -Dataset $test -Model $model -ShardIndex 1 -ShardCount 4 | Export-Csv shard-1.csv'; Remarks = 'The second of four shards (items 1, 5, 9, …); the four CSV files together, sorted by ImageIndex and Rank, hold the rows of the whole data set.' }
        @{ Code = 'Get-Explanation ./shoe.png -Model $model -Nearest -Top 5'; Remarks = 'The five prototypes nearest to any patch of the image, whatever their class.' }
    )
}
