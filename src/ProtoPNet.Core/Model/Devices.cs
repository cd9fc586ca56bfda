using TorchSharp;

namespace ProtoPNet.Model;

public static class Devices
{
    /// <summary>Parses "cpu", "cuda", "cuda:1"; refuses CUDA clearly when this build or machine has none.</summary>
    public static torch.Device Resolve(string? name)
    {
        string text = string.IsNullOrWhiteSpace(name) ? "cpu" : name.Trim().ToLowerInvariant();
        if (text == "cpu") return torch.CPU;
        if (text.StartsWith("cuda", StringComparison.Ordinal))
        {
            if (!torch.cuda.is_available())
                throw new ProtoPNetException("CudaNotAvailable", ErrorKind.ResourceUnavailable,
                    $"Device '{name}' was requested but CUDA is not available: this module was built with the CPU libtorch " +
                    "or no CUDA device is visible. Rebuild with './build.ps1 -Cuda' on a machine with an NVIDIA GPU, or use -Device cpu.", name);
            return new torch.Device(text);
        }
        throw new ProtoPNetException("UnknownDevice", ErrorKind.InvalidArgument, $"Unknown device '{name}'. Use 'cpu', 'cuda' or 'cuda:N'.", name);
    }
}
