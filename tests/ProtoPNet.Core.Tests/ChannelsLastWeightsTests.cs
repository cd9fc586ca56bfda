using ProtoPNet.Model.Backbones;
using ProtoPNet.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;
using ProtoPNet.Optimization;

namespace ProtoPNet.Tests;

/// <summary>
/// While the backbone trains, its k×k convolution weights, their gradients and Adam moments have channels-last strides
/// (<see cref="ChannelsLastWeights"/>). Only the strides may differ from NCHW training: every value, every saved byte and
/// every resumed step must be the same.
/// </summary>
public sealed class ChannelsLastWeightsTests
{
    private static Parameter Weight(int seed) => new(torch.randn(32, 16, 3, 3, generator: new Generator((ulong)seed)));

    private static Adam.ParamGroup[] Group(Parameter p) => [new([p], 1e-2, 0.9, 0.999, 1e-8, 1e-3, false, false)];

    private static void SetGradient(Parameter p, int step, bool channelsLast)
    {
        var g = torch.randn(p.shape, generator: new Generator((ulong)(1000 + step)));
        p.grad = channelsLast ? ChannelsLast.Strides(g) : g;
    }

    private static float[] Values(Tensor t) => t.detach().contiguous().data<float>().ToArray();

    [Fact]
    public void FusedAdamStepsOnChannelsLastWeightsEqualTheNchwStepsBitForBit()
    {
        using var nchw = Weight(1);
        using var nhwc = Weight(1);
        using var nchwAdam = new FusedAdam(Group(nchw), 1e-2);
        using var nhwcAdam = new FusedAdam(Group(nhwc), 1e-2);
        using var layout = new ChannelsLastWeights([nhwc], nhwcAdam);
        Assert.True(ChannelsLast.Has(nhwc));
        var (first, second) = nhwcAdam.MomentsOf(nhwc)!.Value;
        Assert.True(ChannelsLast.Has(first) && ChannelsLast.Has(second), "the moments follow the weight's layout");
        for (int step = 0; step < 3; step++)
        {
            SetGradient(nchw, step, channelsLast: false);
            SetGradient(nhwc, step, channelsLast: true);
            nchwAdam.step();
            nhwcAdam.step();
        }
        Assert.True(ChannelsLast.Has(nhwc), "the update keeps the strides");
        Assert.True(TestData.BitIdentical(Values(nchw), Values(nhwc)));
        var (nchwFirst, _) = nchwAdam.MomentsOf(nchw)!.Value;
        Assert.True(TestData.BitIdentical(Values(nchwFirst), Values(first)));
        layout.Dispose();
        Assert.True(nhwc.is_contiguous() && first.is_contiguous() && second.is_contiguous(), "disposing gives back NCHW");
        using var grad = nhwc.grad!;
        Assert.True(grad.is_contiguous());
    }

    /// <summary>Adam's state saved while paused (as checkpoints are) loads into a fresh optimizer and resumes the same steps.</summary>
    [Fact]
    public void OptimizerStateOfChannelsLastWeightsSavesAndResumesBitIdentically()
    {
        using var uninterrupted = Weight(2);
        using var first = Weight(2);
        byte[] saved;
        using (var adam = new FusedAdam(Group(uninterrupted), 1e-2))
        using (var layout = new ChannelsLastWeights([uninterrupted], adam))
        {
            for (int step = 0; step < 4; step++)
            {
                SetGradient(uninterrupted, step, channelsLast: true);
                adam.step();
            }
        }
        using (var adam = new FusedAdam(Group(first), 1e-2))
        using (var layout = new ChannelsLastWeights([first], adam))
        {
            for (int step = 0; step < 2; step++)
            {
                SetGradient(first, step, channelsLast: true);
                adam.step();
            }
            using (layout.Pause())
            using (var buffer = new MemoryStream())
            {
                Assert.True(first.is_contiguous());
                using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) adam.save_state_dict(writer);
                saved = buffer.ToArray();
            }
            Assert.True(ChannelsLast.Has(first), "the layout comes back after the pause");
        }
        using var resumed = new Parameter(first.detach().clone());
        using (var adam = new FusedAdam(Group(resumed), 1e-2))
        {
            adam.LoadState(saved);
            using var layout = new ChannelsLastWeights([resumed], adam);
            for (int step = 2; step < 4; step++)
            {
                SetGradient(resumed, step, channelsLast: true);
                adam.step();
            }
        }
        Assert.True(TestData.BitIdentical(Values(uninterrupted), Values(resumed)));
    }

    /// <summary>In a phase that trains the backbone the weights and their gradients are channels-last; afterwards NCHW.</summary>
    [Fact]
    public void BackboneTrainingHoldsWeightsAndGradientsChannelsLastAndGivesBackNchw()
    {
        var data = TestData.Images(16, 2, 16, seed: 3);
        using var model = TestData.Model(2, seed: 4);
        var conv = model.Network.Backbone.modules().OfType<MixedPrecisionConv2d>().First(c => c.Weight.shape[1] > 1);
        var seen = new List<(string Phase, bool Weight, bool Gradient)>();
        var callbacks = new TrainingCallbacks
        {
            Progress = new ProgressCallback(p =>
            {
                if (p.Activity != "Training" || p.Done < 2) return;
                using var grad = conv.Weight.grad;
                seen.Add((p.Phase!, ChannelsLast.Has(conv.Weight), grad is not null && ChannelsLast.Has(grad)));
            }),
        };
        var options = new TrainingOptions { Phases = [TrainingPhase.Warm(1), TrainingPhase.Joint(1, stepSize: 1)], BatchSize = 4, Seed = 5 };
        ProtoPNetTrainer.Train(model, data, null, options, callbacks);
        Assert.Contains(seen, s => s.Phase == "Joint");
        Assert.All(seen.Where(s => s.Phase == "Joint"), s => Assert.True(s.Weight && s.Gradient, "joint: channels-last weight and gradient"));
        Assert.All(seen.Where(s => s.Phase == "Warm"), s => Assert.False(s.Weight, "warm: the frozen backbone keeps NCHW"));
        Assert.True(conv.Weight.is_contiguous());
    }
}
