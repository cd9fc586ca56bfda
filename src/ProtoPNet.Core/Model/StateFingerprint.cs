using System.Security.Cryptography;
using TorchSharp;

namespace ProtoPNet.Model;

/// <summary>
/// SHA-256 over the names and bytes of every parameter and buffer of some modules: what a cached computation from
/// them depends on. One read of 45 MB for resnet18, against a forward pass over every image of a dataset.
/// </summary>
internal static class StateFingerprint
{
    public static byte[] Of(params (string Prefix, torch.nn.Module Module)[] modules)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (prefix, module) in modules)
        {
            foreach (var (name, tensor) in module.state_dict())
            {
                hash.AppendData(System.Text.Encoding.UTF8.GetBytes(prefix + name));
                using var scope = torch.NewDisposeScope();   // holds detach() and cpu() while contiguous() reads them
                var cpu = tensor.detach().cpu().contiguous();
                hash.AppendData(cpu.bytes);
            }
        }
        return hash.GetHashAndReset();
    }
}
