namespace ProtoPNet.Training;

/// <summary>
/// What the BatchNorm layers of a frozen backbone do in a phase that does not train it (the warm phase).
/// See docs/algorithm.md, "Warm epochs and BatchNorm".
/// </summary>
public enum WarmBatchNorm
{
    /// <summary>
    /// Eval mode: the running statistics stay as they are and every batch is normalized with them, so the backbone's
    /// output is a fixed function of the image and is computed once per image (the feature cache).
    /// </summary>
    Frozen,

    /// <summary>
    /// Train mode, as in the authors' code: each batch is normalized with its own statistics and the running statistics
    /// follow the data, while the backbone's weights stay fixed. The backbone's output then depends on the batch, so it
    /// is computed again every epoch (no feature cache).
    /// </summary>
    Train,
}
