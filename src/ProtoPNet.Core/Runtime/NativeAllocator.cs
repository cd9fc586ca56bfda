using System.Runtime.InteropServices;

namespace ProtoPNet.Runtime;

/// <summary>
/// Keeps the C allocator (glibc's malloc, which libtorch's CPU tensors use) from handing freed tensor memory back to the
/// kernel after every batch. See docs/performance.md, "Native settings".
/// <para>With glibc's defaults, a tensor of more than 128 KB (the start of the dynamic mmap threshold) is its own
/// <c>mmap</c>, and freeing it unmaps it; a heap's top above 128 KB is trimmed. The next batch asks for the same sizes
/// again, and every page of them is faulted in and zeroed by the kernel again: measured on a 2-core machine, 3 million
/// page faults and 21 s of system time in one 25-s training epoch of the Fashion-MNIST demo, which halved its speed and
/// made it swing from run to run with where the dynamic threshold happened to settle. Keeping the memory mapped makes
/// the next batch reuse it.</para>
/// <para>Settings: no mmap for blocks below the largest threshold glibc accepts (32 MB), heap tops up to 1 GB kept
/// instead of trimmed, 64 MB of padding per heap growth. Memory use then stays at the run's peak instead of going back
/// down between batches; it does not grow with the number of batches. Applied only on Linux with glibc, and not when the
/// user has set the allocator up already (<c>MALLOC_*_</c> variables or <c>GLIBC_TUNABLES</c>), which take precedence.</para>
/// </summary>
public static class NativeAllocator
{
    // mallopt parameter numbers from glibc's malloc.h.
    private const int TrimThresholdOption = -1;     // M_TRIM_THRESHOLD
    private const int TopPadOption = -2;            // M_TOP_PAD
    private const int MmapThresholdOption = -3;     // M_MMAP_THRESHOLD

    /// <summary>Largest mmap threshold glibc accepts on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX).</summary>
    public const int MmapThresholdBytes = 32 << 20;
    public const int TrimThresholdBytes = 1 << 30;
    public const int TopPadBytes = 64 << 20;

    private static readonly string[] UserSettings =
        ["GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"];

    /// <summary>True once the settings above are in force in this process.</summary>
    public static bool Configured { get; private set; }

    /// <summary>Why the settings were not applied, or null when they were.</summary>
    public static string? SkippedBecause { get; private set; }

    /// <summary>Applies the settings (called once per process by <see cref="NativeTorch"/>). Never throws.</summary>
    internal static void Configure()
    {
        string? userSetting = UserSettings.FirstOrDefault(name => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name)));
        if (userSetting is not null) { SkippedBecause = userSetting + " is set"; return; }
        if (!OperatingSystem.IsLinux()) { SkippedBecause = "not Linux"; return; }
        try
        {
            // musl has a mallopt that does nothing; glibc alone exports gnu_get_libc_version.
            if (!NativeLibrary.TryLoad("libc.so.6", out IntPtr libc)
                || !NativeLibrary.TryGetExport(libc, "gnu_get_libc_version", out _)
                || !NativeLibrary.TryGetExport(libc, "mallopt", out IntPtr mallopt))
            {
                SkippedBecause = "not glibc";
                return;
            }
            Configured = Set(mallopt, MmapThresholdOption, MmapThresholdBytes)
                         & Set(mallopt, TrimThresholdOption, TrimThresholdBytes)
                         & Set(mallopt, TopPadOption, TopPadBytes);
            if (!Configured) SkippedBecause = "mallopt refused a setting";
        }
        catch (Exception e)
        {
            SkippedBecause = e.Message;
        }
    }

    private static unsafe bool Set(IntPtr mallopt, int option, int value) =>
        ((delegate* unmanaged<int, int, int>)mallopt)(option, value) == 1;
}
