using Xunit;

// libtorch's RNG (torch.manual_seed) and thread settings are process-wide: tests that seed and compare runs
// would see each other's random draws if test classes ran in parallel.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
