@{
    Synopsis    = 'Measures how well a model''s explanations point: pointing game, consistency, stability, deletion and insertion AUC, each with its chance level.'
    Description = @'
Pipe a model (or an ensemble) in and give a data set; one object per metric comes out, with Value, Chance (the same metric for a box at a random place or a random pixel order), Images, Prototypes, Seconds and ImagesPerSecond. Every property is a number or a string, so Export-Csv writes the objects as they are.

PointingGame: the share of images whose top evidence box (the prototype with the largest contribution, similarity × weight, to the predicted class, as Get-Explanation ranks it) has its centre within a part box (±3 px) or holds a part keypoint. -BoxMethod ReceptiveField (default) boxes the input window of the best-matching latent cell; Percentile boxes every pixel at or above the 95th percentile of the bicubic-upsampled activation map. Chance: a box of the same size at a uniformly random place inside the image, computed exactly. With pushed prototypes whose source images have parts, PrototypesOnPart is the share of them whose source box centre lies on a part, with its chance, and PrototypesOnPartWeightShare the share of their positive own-class last-layer weight that the ones on a part carry (are the prototypes that decide the parts?).

Consistency (Huang et al., ICCV 2023): for each prototype of class c, over the images of class c with parts, a box of side 72/224 of the input centred on the maximum of the upsampled activation map; f(p,k) = images where part k is inside / images where part k is visible; a prototype is consistent when max over k of f(p,k) is at least 0.8. Value: percent of consistent prototypes. Chance: the same with boxes centred at random pixels (seeded).

Stability (Huang et al.): the same part vectors on x + clip(N(0, 0.2²), ±0.25) in normalised input space (seeded); Value: percent of (prototype, image) pairs whose vector is unchanged (absolute differences are compared). Chance: two independent random boxes.

Deletion and Insertion: pixels ranked by the saliency of the predicted class (its prototypes' activation maps weighted by their last-layer weights, upsampled bicubically; ties in random order). Deletion sets them, most salient first, to the normalised zero (the data set's mean colour); insertion puts them back onto a blurred copy of the image (Gaussian, σ = 5·S/224). The curve is the predicted class's probability against the share of pixels changed in -Steps steps; Value is its area by the trapezoid rule (lower is better for deletion, higher for insertion); Chance is the area with pixels in a random order. Curve and ChanceCurve hold the mean curves.

Part annotations: a CUB-200-2011 import keeps parts/part_locs.txt (visible keypoints), mapped through the bounding-box crop and the resize; any other data set takes a CSV (-PartsPath) with the header Image,Part,X,Y,Width,Height, Image relative to the CSV's folder with '/' separators (or absolute), the box in the original image's pixels, and Width = Height = 0 for a keypoint (New-PlantedPartSet.ps1 writes one). Without parts, the default is Deletion and Insertion only.

Errors: PartsFileNotFound (ObjectNotFound), PartsFileMalformed (InvalidData), PartsDoNotMatchDataset (InvalidArgument: no image of the CSV is in the data set), PartsRequired (a part metric without parts), BoxMethodNotApplicable. Images that cannot be loaded are reported one by one and left out.
'@
    Parameters  = @{
        Model           = 'The model (or ensemble from Join-ProtoPNet); accepts pipeline input.'
        Dataset         = 'The images to measure on, usually the test split; its class names must be the model''s.'
        Metric          = 'Any of PointingGame, Consistency, Stability, Deletion, Insertion. Default: every metric the data allows.'
        PartsPath       = 'A CSV of part boxes or keypoints per image (see the description); a CUB-200-2011 import needs none.'
        BoxMethod       = 'The pointing game''s evidence box: ReceptiveField (default) or Percentile.'
        Seed            = 'Seeds the stability noise, the random boxes of the chance levels and the random pixel orders.'
        PerPrototype    = 'After the metric objects, one row per prototype: Model, Index, Class, Images, PreferredPart, HitRate, Consistent, Stability, SourceOnPart, SourceImage.'
        OutputDirectory = 'Writes interpretability.html here: the metric table, curves.png with the deletion and insertion curves, and the most and least consistent prototypes with their push patches.'
        BatchSize       = 'Images per forward pass.'
        Steps           = 'Steps of the deletion and insertion curves (at least 20); the curve has Steps + 1 points.'
    }
    Examples    = @(
        @{ Code = '$model | Measure-ProtoPNetInterpretability -Dataset $test -PartsPath ./planted/parts.csv'; Remarks = 'All five metrics on a planted-part test split, with their chance levels.' }
        @{ Code = '$model | Measure-ProtoPNetInterpretability $test -Metric PointingGame -BoxMethod Percentile'; Remarks = 'The pointing game with the authors'' 95th-percentile box (a CUB import brings its own parts).' }
        @{ Code = '$model | Measure-ProtoPNetInterpretability $test -PartsPath ./parts.csv -PerPrototype | Where-Object { $_ -is [ProtoPNet.Interpretability.PrototypeInterpretability] } | Export-Csv prototypes.csv'; Remarks = 'One row per prototype, written as it is.' }
        @{ Code = '$model | Measure-ProtoPNetInterpretability $test -Metric Deletion, Insertion -OutputDirectory ./report'; Remarks = 'Deletion and insertion AUC with a page of their curves.' }
    )
}
