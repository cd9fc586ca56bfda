namespace ProtoPNet;

/// <summary>
/// Combines integers into a seed that is the same in every process. (System.HashCode is randomised per process, so a
/// seed made with it would not repeat a run, a resumed run or a generated data set in another process.)
/// </summary>
public static class SeedMix
{
    public static int Combine(params int[] values)
    {
        ulong state = 0x9E3779B97F4A7C15;
        foreach (int v in values)
        {
            // SplitMix64 steps over the running state and each value.
            state += (ulong)(uint)v + 0x9E3779B97F4A7C15;
            ulong z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
            state = z ^ (z >> 31);
        }
        return (int)(state ^ (state >> 32));
    }
}
