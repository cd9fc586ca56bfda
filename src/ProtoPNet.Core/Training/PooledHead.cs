using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ProtoPNet.Training;

/// <summary>
/// A linear classifier over the max-pooled backbone features: the head of the backbone phase
/// (<see cref="TrainingPhase.PooledHead"/>), in which a backbone that starts from random weights learns as a plain
/// classifier before the ProtoPNet phases; thrown away afterwards, never part of the model (docs/algorithm.md,
/// "Training from scratch").
/// </summary>
internal sealed class PooledHead : IDisposable
{
    private readonly Linear linear;

    private PooledHead(Linear linear) => this.linear = linear;

    public static PooledHead Create(int channels, int classes, Device device) => new(Linear(channels, classes).to(device));

    public static PooledHead FromState(float[] weight, float[] bias, int channels, int classes, Device device)
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

    public float[] WeightValues() => Values(linear.weight!);
    public float[] BiasValues() => Values(linear.bias!);

    private static float[] Values(Tensor t)
    {
        using var scope = torch.NewDisposeScope();
        return t.detach().cpu().data<float>().ToArray();
    }

    public void Dispose() => linear.Dispose();
}
