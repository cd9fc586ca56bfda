using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ProtoPNet.Model;

/// <summary>The 1×1 convolutions between backbone and prototypes (docs/algorithm.md, section 1), named as in the authors' code.</summary>
public static class AddOnLayers
{
    /// <param name="authorsInitialization">The authors' initialization (<see cref="Backbones.Backbone.AuthorsAddOnInitialization"/>);
    /// false keeps a convolution's default (Kaiming uniform, a = √5, uniform bias).</param>
    public static Sequential Create(AddOnKind kind, int inChannels, int depth, bool authorsInitialization = true)
    {
        var layers = kind switch
        {
            AddOnKind.Regular => Sequential(
                ("0", Conv2d(inChannels, depth, 1)), ("1", ReLU()),
                ("2", Conv2d(depth, depth, 1)), ("3", Sigmoid())),
            AddOnKind.Bottleneck => Bottleneck(inChannels, depth),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        if (authorsInitialization) Initialize(layers, authors: true);
        return layers;
    }

    /// <summary>
    /// Draws the add-on's weights again. <paramref name="authors"/>: the authors' initialization (their
    /// <c>_initialize_weights</c>): Kaiming normal with fan-out and ReLU gain, bias 0 — weights 2.5–3.5× larger than a
    /// convolution's default; measured, it decides how much accuracy push costs (docs/algorithm.md §1). Otherwise a
    /// convolution's default, as TorchSharp's Conv2d draws it: Kaiming uniform with a = √5, bias uniform in ±1/√fan-in.
    /// Internal: the planted-part benchmark crosses backbone and initialization with it.
    /// </summary>
    internal static void Initialize(Sequential layers, bool authors)
    {
        using var _ = no_grad();
        foreach (var conv in layers.children().OfType<Conv2d>())
        {
            if (authors)
            {
                init.kaiming_normal_(conv.weight!, mode: init.FanInOut.FanOut, nonlinearity: init.NonlinearityType.ReLU);
                init.zeros_(conv.bias!);
                continue;
            }
            init.kaiming_uniform_(conv.weight!, Math.Sqrt(5));
            var (fanIn, _) = init.CalculateFanInAndFanOut(conv.weight!);
            double bound = 1 / Math.Sqrt(fanIn);
            init.uniform_(conv.bias!, -bound, bound);
        }
    }

    /// <summary>
    /// Halve the channels until the prototype depth is reached (at least one block, as the authors do):
    /// out = max(D, C/2); Conv(C→out), ReLU, Conv(out→out), then ReLU, or Sigmoid on the last block.
    /// </summary>
    private static Sequential Bottleneck(int inChannels, int depth)
    {
        var layers = new List<(string, TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>)>();
        int c = inChannels;
        while (c > depth || layers.Count == 0)
        {
            int output = Math.Max(depth, c / 2);
            layers.Add(($"{layers.Count}", Conv2d(c, output, 1)));
            layers.Add(($"{layers.Count}", ReLU()));
            layers.Add(($"{layers.Count}", Conv2d(output, output, 1)));
            if (output > depth) layers.Add(($"{layers.Count}", ReLU()));
            else
            {
                layers.Add(($"{layers.Count}", Sigmoid()));
                break;
            }
            c /= 2;
        }
        return Sequential(layers);
    }
}
