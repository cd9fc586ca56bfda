using System.Numerics;
using ProtoPNet.Model;
using ProtoPNet.Model.Backbones;
using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using ProtoPNet.Runtime;
using static TorchSharp.torch;

namespace ProtoPNet.Optimization;

/// <summary>
/// TorchSharp's <see cref="Adam"/> (L2 weight decay added to the gradient, bias-corrected moments), with the update of
/// each float32 CPU parameter done in one pass over its memory instead of nine tensor operations, and without the
/// TorchSharp Scalars Adam's own step leaves unheld (docs/performance.md, "Fused Adam").
/// <para>Its state is Adam's own (same <c>State</c> objects, same <c>save_state_dict</c> format), and
/// <see cref="LoadState"/> takes Adam's saved state too. Parameters it cannot address as plain float32 memory
/// (another device or dtype, gradients or moments in another layout than the parameter's) take Adam's tensor path;
/// parameters in channels-last strides (see <see cref="ChannelsLastWeights"/>) are updated in their memory order; the amsgrad and maximize variants are
/// not implemented. The arithmetic is Adam's, in float32, but not bit for bit: libtorch's kernels may round
/// multiply-adds differently.</para>
/// </summary>
public sealed class FusedAdam : Adam
{
    // Below this many elements a parameter is updated on the calling thread: splitting costs more than it saves.
    private const int ParallelThreshold = 1 << 16;

    public FusedAdam(IEnumerable<ParamGroup> groups, double lr) : base(groups, lr, 0.9, 0.999, 1e-8, 0, false, false)
    {
    }

    /// <summary>
    /// Loads state saved by this class or by TorchSharp's Adam (checkpoints written before this class existed): the
    /// stream is Adam's format, headed by the saving class's name, which <c>load_state_dict</c> insists on.
    /// </summary>
    public void LoadState(byte[] state)
    {
        using var reader = new BinaryReader(new MemoryStream(state));
        string saver = reader.ReadString();
        if (saver != nameof(Adam) && saver != nameof(FusedAdam))
            throw new InvalidDataException($"The optimizer state was saved by '{saver}', not by Adam.");
        var renamed = new MemoryStream();
        using (var writer = new BinaryWriter(renamed, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(nameof(FusedAdam));
            reader.BaseStream.CopyTo(renamed);
        }
        renamed.Position = 0;
        using var renamedReader = new BinaryReader(renamed);
        load_state_dict(renamedReader);
    }

    public override Tensor step(Func<Tensor>? closure = null)
    {
        Tensor? loss = null;
        if (closure is not null)
            using (enable_grad()) loss = closure();
        using var _ = no_grad();
        foreach (var group in _parameter_groups)
        {
            var options = (Options)group.Options;
            double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, eps = options.eps!.Value;
            double weightDecay = options.weight_decay!.Value, lr = options.LearningRate!.Value;
            if (options.amsgrad == true || options.maximize == true)
                throw new NotSupportedException("FusedAdam implements Adam without the amsgrad and maximize variants.");
            foreach (var param in group.Parameters)
            {
                using var grad = param.grad;
                if (grad is null) continue;
                var state = (State)_state[param.Handle];
                state.step += 1;
                double correction1 = 1 - Math.Pow(beta1, state.step), correction2 = 1 - Math.Pow(beta2, state.step);
                if (!Addressable(param, grad, state))
                {
                    using var scope = NewDisposeScope();
                    TensorUpdate(param, grad, state, beta1, beta2, eps, weightDecay, lr, correction1, correction2);
                    continue;
                }
                var coefficients = new Coefficients((float)beta1, (float)(1 - beta1), (float)beta2, (float)(1 - beta2), (float)eps,
                    (float)weightDecay, (float)Math.Sqrt(correction2), (float)(-lr / correction1));
                using var memory = NewDisposeScope();
                // Addressable checked one memory order for all four: their contiguous views of it line up element for element.
                FusedUpdate(ChannelsLast.MemoryOrderView(param)!, ChannelsLast.MemoryOrderView(grad)!,
                    ChannelsLast.MemoryOrderView(state.exp_avg)!, ChannelsLast.MemoryOrderView(state.exp_avg_sq)!, coefficients);
            }
        }
        return loss!;
    }

    /// <summary>Float32 CPU tensors that are contiguous, or all four in channels-last strides: one memory order for all.</summary>
    private static bool Addressable(Tensor param, Tensor grad, State state)
    {
        if (param.device_type != DeviceType.CPU || param.dtype != ScalarType.Float32 || grad.dtype != ScalarType.Float32 ||
            state.exp_avg.dtype != ScalarType.Float32 || state.exp_avg_sq.dtype != ScalarType.Float32)
            return false;
        Tensor[] all = [param, grad, state.exp_avg, state.exp_avg_sq];
        return all.All(t => t.is_contiguous()) || all.All(ChannelsLast.Has);
    }

    /// <summary>Adam's first and second moments of <paramref name="param"/> (null before the optimizer holds state for it).</summary>
    internal (Tensor First, Tensor Second)? MomentsOf(Tensor param) =>
        _state.TryGetValue(param.Handle, out var state) && state is State adam ? (adam.exp_avg, adam.exp_avg_sq) : null;

    /// <summary>Adam's own step for one parameter (TorchSharp's operations, in its order), for what the fused loop does
    /// not take. Its Scalars are held by ScalarMath (docs/performance.md, "Scalars").</summary>
    private static void TensorUpdate(Tensor param, Tensor grad, State state, double beta1, double beta2, double eps, double weightDecay,
        double lr, double correction1, double correction2)
    {
        var g = weightDecay != 0 ? grad.AddScaled(param, weightDecay) : grad;
        state.exp_avg.MulInPlace(beta1).AddScaledInPlace(g, 1 - beta1);
        state.exp_avg_sq.MulInPlace(beta2).AddProductInPlace(g, g, 1 - beta2);
        var denominator = state.exp_avg_sq.sqrt().DivInPlace(Math.Sqrt(correction2)).AddInPlace(eps);
        param.AddQuotientInPlace(state.exp_avg, denominator, -lr / correction1);
    }

    private readonly record struct Coefficients(float Beta1, float OneMinusBeta1, float Beta2, float OneMinusBeta2, float Epsilon,
        float WeightDecay, float RootCorrection2, float NegativeStepSize);

    private static unsafe void FusedUpdate(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, Coefficients c)
    {
        long count = param.numel();
        // Tensor.bytes spans the tensor's own memory (contiguous CPU tensors, checked by Addressable).
        fixed (byte* pb = param.bytes, gb = grad.bytes, mb = expAvg.bytes, vb = expAvgSq.bytes)
            FusedUpdate((float*)pb, (float*)gb, (float*)mb, (float*)vb, count, c);
    }

    private static unsafe void FusedUpdate(float* p, float* g, float* m, float* v, long count, Coefficients c)
    {
        if (count < ParallelThreshold)
        {
            Update(p, g, m, v, 0, count, c);
            return;
        }
        int parts = Math.Max(1, Math.Min(torch.get_num_threads(), (int)(count / ParallelThreshold)));
        long chunk = (count + parts - 1) / parts;
        // Pointers cannot be captured by a lambda; their addresses as integers can.
        nint pa = (nint)p, ga = (nint)g, ma = (nint)m, va = (nint)v;
        Parallel.For(0, parts, part =>
        {
            long start = part * chunk, end = Math.Min(count, start + chunk);
            Update((float*)pa, (float*)ga, (float*)ma, (float*)va, start, end, c);
        });
    }

    /// <summary>Elements [start, end): g' = g + wd·p; m = β1·m + (1−β1)·g'; v = β2·v + (1−β2)·g'²;
    /// p = p − lr/(1−β1ᵗ) · m / (√v / √(1−β2ᵗ) + ε).</summary>
    private static unsafe void Update(float* p, float* g, float* m, float* v, long start, long end, Coefficients c)
    {
        long i = start;
        int width = Vector<float>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            var beta1 = new Vector<float>(c.Beta1); var oneMinusBeta1 = new Vector<float>(c.OneMinusBeta1);
            var beta2 = new Vector<float>(c.Beta2); var oneMinusBeta2 = new Vector<float>(c.OneMinusBeta2);
            var epsilon = new Vector<float>(c.Epsilon); var decay = new Vector<float>(c.WeightDecay);
            var root = new Vector<float>(c.RootCorrection2); var stepSize = new Vector<float>(c.NegativeStepSize);
            for (; i + width <= end; i += width)
            {
                var pv = Vector.Load(p + i);
                var gv = Vector.Load(g + i) + decay * pv;
                var mv = Vector.Load(m + i) * beta1 + oneMinusBeta1 * gv;
                var vv = Vector.Load(v + i) * beta2 + oneMinusBeta2 * (gv * gv);
                mv.Store(m + i);
                vv.Store(v + i);
                (pv + stepSize * (mv / (Vector.SquareRoot(vv) / root + epsilon))).Store(p + i);
            }
        }
        for (; i < end; i++)
        {
            float gi = g[i] + c.WeightDecay * p[i];
            float mi = m[i] * c.Beta1 + c.OneMinusBeta1 * gi;
            float vi = v[i] * c.Beta2 + c.OneMinusBeta2 * (gi * gi);
            m[i] = mi;
            v[i] = vi;
            p[i] += c.NegativeStepSize * (mi / (MathF.Sqrt(vi) / c.RootCorrection2 + c.Epsilon));
        }
    }
}
