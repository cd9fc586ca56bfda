using ProtoPNet.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ProtoPNet.Training;

/// <summary>A copy of a network's parameters and buffers, for best-model selection and checkpoints.</summary>
public sealed class NetworkState : IDisposable
{
    private readonly Dictionary<string, Tensor> tensors;

    private NetworkState(Dictionary<string, Tensor> tensors) => this.tensors = tensors;

    public IReadOnlyDictionary<string, Tensor> Tensors => tensors;

    public static NetworkState Capture(nn.Module module)
    {
        using var _ = torch.no_grad();
        using var scope = NewDisposeScope();   // holds the detach() temporaries through clone() (docs/performance.md, "Object lifetimes")
        var copy = new Dictionary<string, Tensor>();
        foreach (var (name, t) in module.state_dict()) copy[name] = t.detach().clone().DetachFromDisposeScope();
        return new NetworkState(copy);
    }

    public static NetworkState FromTensors(Dictionary<string, Tensor> tensors) => new(tensors);

    /// <summary>Copies this state into <paramref name="module"/> (same architecture).</summary>
    public void Restore(nn.Module module)
    {
        using var _ = torch.no_grad();
        using var scope = NewDisposeScope();
        foreach (var (name, target) in module.state_dict())
        {
            if (!tensors.TryGetValue(name, out var source) || !source.shape.SequenceEqual(target.shape))
                throw new ProtoPNetException("StateMismatch", ErrorKind.InvalidData, $"Saved state has no tensor '{name}' of shape [{string.Join(",", target.shape)}].", name);
            target.copy_(source);
        }
    }

    public void Dispose()
    {
        foreach (var t in tensors.Values) t.Dispose();
        tensors.Clear();
    }
}
