using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ProtoPNet.Training;

/// <summary>
/// A linear classifier over the max-pooled backbone features, trained beside the ProtoPNet head while the backbone
/// learns from scratch (<see cref="TrainingOptions.AuxiliaryHead"/>), and thrown away afterwards: it gives every latent
/// patch a gradient, where the prototype layer's min-pool gives one patch per prototype.
/// </summary>
internal sealed class AuxiliaryHead : IDisposable
{
    private readonly Linear linear;

    private AuxiliaryHead(Linear linear) => this.linear = linear;

    public static AuxiliaryHead Create(int channels, int classes, Device device) => new(Linear(channels, classes).to(device));

    public static AuxiliaryHead FromState(float[] weight, float[] bias, int channels, int classes, Device device)
    {
        var head = Create(channels, classes, device);
        using var _ = torch.no_grad();
        using var w = torch.tensor(weight, [classes, channels]);
        using var b = torch.tensor(bias, [classes]);
        head.linear.weight!.copy_(w);
        head.linear.bias!.copy_(b);
        return head;
    }

    public Parameter[] Parameters => [linear.weight!, linear.bias!];

    /// <summary>Logits [N, K] of the pooled head on backbone features [N, C, H, W]: global max pool, then linear.</summary>
    public Tensor Logits(Tensor features)
    {
        // Max, not average: on a task decided by a small part, an average over the grid dilutes the few cells that see it
        // (a 64-px planted-part set: 47 % training accuracy after 6 epochs with the average, 100 % after 3 with the max),
        // and the max passes the gradient to the cell that fired, as the prototype layer's min-pool does.
        using var pooled = features.amax([2, 3]);
        return linear.forward(pooled);
    }

    /// <summary>Mean cross-entropy of the pooled head on backbone features [N, C, H, W].</summary>
    public Tensor Loss(Tensor features, Tensor labels)
    {
        using var logits = Logits(features);
        return nn.functional.cross_entropy(logits, labels);
    }

    public float[] WeightValues() => Values(linear.weight!);
    public float[] BiasValues() => Values(linear.bias!);

    private static float[] Values(Tensor t)
    {
        using var scope = torch.NewDisposeScope();
        return t.detach().cpu().data<float>().ToArray();
    }

    public void Dispose() => linear.Dispose();
}
