using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;

namespace ProtoPNet.Runtime;

/// <summary>
/// Settings of libtorch's global context that TorchSharp does not expose, and of the C allocator under it
/// (<see cref="NativeAllocator"/>), applied once when this assembly is first used.
/// <para>NNPACK: libtorch's convolution asks NNPACK first on every call; on a CPU NNPACK does not support it fails and
/// prints "Could not initialize NNPACK! Reason: Unsupported hardware." to stderr, twice per inference batch. Turning the
/// NNPACK path off (what PyTorch's <c>torch.backends.nnpack.set_flags(False)</c> does) sends the convolutions straight to
/// the backend they end up in anyway (oneDNN or the native kernels) and the warnings never arise.</para>
/// <para>The switch is a C++ member function of <c>at::Context</c>, reached through its exported (Itanium-mangled) symbol
/// in libtorch_cpu on Linux. Elsewhere, or where the symbol is missing, nothing is done.</para>
/// </summary>
public static class NativeTorch
{
    private const string GlobalContextSymbol = "_ZN2at13globalContextEv";                   // at::globalContext()
    private const string SetNnpackSymbol = "_ZN2at7Context20setUserEnabledNNPACKEb";         // at::Context::setUserEnabledNNPACK(bool)
    private const string GetNnpackSymbol = "_ZNK2at7Context17userEnabledNNPACKEv";            // at::Context::userEnabledNNPACK() const

    private static int initialized;

    /// <summary>True once NNPACK has been turned off in libtorch's global context; false where that was not possible.</summary>
    public static bool NnpackDisabled { get; private set; }

    // A library's module initializer on purpose: every entry point into Core (cmdlets, tests, scripts that Add-Type the
    // assembly) gets the setting before its first convolution, without each having to remember a call.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void OnLoad() => Initialize();

    /// <summary>Applies the settings (once per process; later calls do nothing). Never throws.</summary>
    public static void Initialize()
    {
        if (Interlocked.Exchange(ref initialized, 1) == 1) return;
        NativeAllocator.Configure();
        // A switch for soaking with this native call off (docs/performance.md, "Object lifetimes").
        if (Environment.GetEnvironmentVariable("PROTOPNET_KEEP_NNPACK") == "1") return;
        try
        {
            NnpackDisabled = DisableNnpack();
        }
        catch (Exception)
        {
            NnpackDisabled = false;       // a libtorch without these symbols or TorchSharp's loader failing: leave the defaults
        }
    }

    /// <summary>Whether libtorch's global context has NNPACK enabled; null where that cannot be asked.</summary>
    public static unsafe bool? NnpackEnabled()
    {
        if (!TryGetContext(out IntPtr library, out IntPtr context)) return null;
        if (!NativeLibrary.TryGetExport(library, GetNnpackSymbol, out IntPtr get)) return null;
        return ((delegate* unmanaged<IntPtr, byte>)get)(context) != 0;
    }

    private static unsafe bool DisableNnpack()
    {
        if (!TryGetContext(out IntPtr library, out IntPtr context)) return false;
        if (!NativeLibrary.TryGetExport(library, SetNnpackSymbol, out IntPtr set)) return false;
        ((delegate* unmanaged<IntPtr, byte, void>)set)(context, 0);
        return true;
    }

    private static unsafe bool TryGetContext(out IntPtr library, out IntPtr context)
    {
        context = IntPtr.Zero;
        library = IntPtr.Zero;
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return false;
        // TorchSharp loads libtorch on its first use; after that, asking for the soname gives the copy already in the process
        // (never a second one from another path, whose global context would be a different object).
        torch.InitializeDeviceType(DeviceType.CPU);
        if (!NativeLibrary.TryLoad("libtorch_cpu.so", out library)) return false;
        if (!NativeLibrary.TryGetExport(library, GlobalContextSymbol, out IntPtr globalContext)) return false;
        context = ((delegate* unmanaged<IntPtr>)globalContext)();
        return context != IntPtr.Zero;
    }
}
