namespace ProtoPNet.Model;

/// <summary>
/// The arithmetic the backbone's convolutions run in. Weights, BatchNorm statistics, add-on layers, prototypes, distances
/// and the last layer stay float32 either way (docs/performance.md, "Mixed precision").
/// </summary>
public enum ComputePrecision
{
    /// <summary>Everything in float32: the reference computation.</summary>
    Float32,

    /// <summary>
    /// Backbone convolutions in bfloat16 from float32 master weights (gradients reach the float32 weights), the backbone's
    /// output cast back to float32. About 1 % relative difference in the features; fast on CPUs with native bfloat16
    /// (AVX-512 BF16, AMX), slow elsewhere.
    /// </summary>
    BFloat16,
}
