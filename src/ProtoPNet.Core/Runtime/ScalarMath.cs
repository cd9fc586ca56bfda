using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.Runtime;

/// <summary>
/// Tensor operations with a number (and the tensor sum, whose TorchSharp overloads convert a default alpha = 1), each
/// holding its TorchSharp <see cref="Scalar"/> in a <c>using</c> until the native call has returned.
/// <para>Why (docs/performance.md, "Scalars"): a <see cref="Scalar"/> wraps a native pointer and frees it in its finalizer.
/// TorchSharp 0.107 passes <c>scalar.Handle</c> to libtorch and keeps no reference to the object during the call, so a
/// Scalar made on the fly — by C#'s implicit conversion in <c>t * 0.5</c>, <c>t.lt(0)</c>, <c>torch.full(shape, -1.0)</c>,
/// or inside TorchSharp itself (<c>a + b</c> and <c>t.add(x)</c> convert alpha = 1, <c>t.square()</c> converts 2) — can
/// be finalized on the finalizer thread while libtorch still reads it: rare, random crashes such as "Unknown scalar type"
/// in <c>THSTensor_mul_scalar</c>. Each method here does the same TorchSharp operation (same overload, same order, so
/// the same numbers) with the Scalar held. ScalarSafetyTests fails when Core makes a Scalar anywhere else.</para>
/// <para>Overloads take <c>double</c> and <c>long</c>: an integer literal picks <c>long</c>, so an integer tensor stays
/// integer (<c>labels.EqualTo(k)</c>), and a float tensor gets the same value either way.</para>
/// </summary>
internal static class ScalarMath
{
    // ---- a number and a tensor ----

    /// <summary><c>t + value</c>.</summary>
    public static Tensor Add(this Tensor t, double value)
    {
        using var s = value.ToScalar();
        using var one = 1.ToScalar();
        return t.add(s, one);
    }

    /// <summary><c>t + value</c>.</summary>
    public static Tensor Add(this Tensor t, long value)
    {
        using var s = value.ToScalar();
        using var one = 1.ToScalar();
        return t.add(s, one);
    }

    /// <summary><c>t - value</c>.</summary>
    public static Tensor Sub(this Tensor t, double value)
    {
        using var s = value.ToScalar();
        return t.sub(s);
    }

    /// <summary><c>value - t</c>, computed as TorchSharp's operator does: <c>(-t) + value</c>.</summary>
    public static Tensor RSub(this Tensor t, double value)
    {
        using var s = value.ToScalar();
        using var one = 1.ToScalar();
        using var negative = t.negative();
        return negative.add(s, one);
    }

    /// <summary><c>value - t</c>, computed as TorchSharp's operator does: <c>(-t) + value</c>.</summary>
    public static Tensor RSub(this Tensor t, long value)
    {
        using var s = value.ToScalar();
        using var one = 1.ToScalar();
        using var negative = t.negative();
        return negative.add(s, one);
    }

    /// <summary><c>t * value</c> (also <c>value * t</c>: TorchSharp computes both as <c>t.mul(value)</c>).</summary>
    public static Tensor Mul(this Tensor t, double value)
    {
        using var s = value.ToScalar();
        return t.mul(s);
    }

    /// <summary><c>t * value</c> (also <c>value * t</c>).</summary>
    public static Tensor Mul(this Tensor t, long value)
    {
        using var s = value.ToScalar();
        return t.mul(s);
    }

    /// <summary><c>t / value</c>.</summary>
    public static Tensor Div(this Tensor t, double value)
    {
        using var s = value.ToScalar();
        return t.div(s);
    }

    /// <summary><c>t / value</c> (true division, as the operator).</summary>
    public static Tensor Div(this Tensor t, long value)
    {
        using var s = value.ToScalar();
        return t.div(s);
    }

    /// <summary><c>value / t</c>, computed as TorchSharp's operator does: <c>t.reciprocal() * value</c>.</summary>
    public static Tensor RDiv(this Tensor t, double value)
    {
        using var s = value.ToScalar();
        using var reciprocal = t.reciprocal();
        return reciprocal.mul(s);
    }

    /// <summary><c>value / t</c>, computed as TorchSharp's operator does: <c>t.reciprocal() * value</c>.</summary>
    public static Tensor RDiv(this Tensor t, long value)
    {
        using var s = value.ToScalar();
        using var reciprocal = t.reciprocal();
        return reciprocal.mul(s);
    }

    /// <summary><c>t.square()</c>, which is <c>t.pow(2)</c>.</summary>
    public static Tensor Square(this Tensor t)
    {
        using var two = 2.ToScalar();
        return t.pow(two);
    }

    /// <summary><c>t.clamp_min(min)</c>.</summary>
    public static Tensor ClampMin(this Tensor t, double min)
    {
        using var s = min.ToScalar();
        return t.clamp_min(s);
    }

    /// <summary><c>t.clamp_min(min)</c>.</summary>
    public static Tensor ClampMin(this Tensor t, long min)
    {
        using var s = min.ToScalar();
        return t.clamp_min(s);
    }

    /// <summary><c>t.clamp(min, max)</c>.</summary>
    public static Tensor Clamp(this Tensor t, long min, long max)
    {
        using var low = min.ToScalar();
        using var high = max.ToScalar();
        return t.clamp(low, high);
    }

    /// <summary><c>t.clamp_(min, max)</c>: clamps in place and returns <paramref name="t"/>.</summary>
    public static Tensor ClampInPlace(this Tensor t, double min, double max)
    {
        using var low = min.ToScalar();
        using var high = max.ToScalar();
        return t.clamp_(low, high);
    }

    /// <summary><c>t.masked_fill(mask, value)</c>.</summary>
    public static Tensor MaskedFill(this Tensor t, Tensor mask, double value)
    {
        using var s = value.ToScalar();
        return t.masked_fill(mask, s);
    }

    // ---- comparisons with a number ----

    /// <summary><c>t.eq(value)</c>.</summary>
    public static Tensor EqualTo(this Tensor t, long value)
    {
        using var s = value.ToScalar();
        return t.eq(s);
    }

    /// <summary><c>t.eq(value)</c>.</summary>
    public static Tensor EqualTo(this Tensor t, double value)
    {
        using var s = value.ToScalar();
        return t.eq(s);
    }

    /// <summary><c>t.ne(value)</c>.</summary>
    public static Tensor NotEqualTo(this Tensor t, long value)
    {
        using var s = value.ToScalar();
        return t.ne(s);
    }

    /// <summary><c>t.lt(value)</c>.</summary>
    public static Tensor LessThan(this Tensor t, long value)
    {
        using var s = value.ToScalar();
        return t.lt(s);
    }

    /// <summary><c>t.le(value)</c>.</summary>
    public static Tensor LessOrEqual(this Tensor t, long value)
    {
        using var s = value.ToScalar();
        return t.le(s);
    }

    /// <summary><c>t.gt(value)</c>.</summary>
    public static Tensor GreaterThan(this Tensor t, long value)
    {
        using var s = value.ToScalar();
        return t.gt(s);
    }

    /// <summary><c>t.gt(value)</c>.</summary>
    public static Tensor GreaterThan(this Tensor t, double value)
    {
        using var s = value.ToScalar();
        return t.gt(s);
    }

    // ---- two tensors: TorchSharp's a + b and a.add_(b) convert alpha = 1 to a Scalar they do not hold ----

    /// <summary><c>a + b</c>.</summary>
    public static Tensor Add(this Tensor a, Tensor b)
    {
        using var one = 1.ToScalar();
        return a.add(b, one);
    }

    /// <summary><c>a.add_(b)</c>: adds in place and returns <paramref name="a"/>.</summary>
    public static Tensor AddInPlace(this Tensor a, Tensor b)
    {
        using var one = 1.ToScalar();
        return a.add_(b, one);
    }

    /// <summary><c>a + alpha·b</c> (<c>a.add(b, alpha)</c>).</summary>
    public static Tensor AddScaled(this Tensor a, Tensor b, double alpha)
    {
        using var s = alpha.ToScalar();
        return a.add(b, s);
    }

    /// <summary><c>a.add_(b, alpha)</c>: a += alpha·b, returns <paramref name="a"/>.</summary>
    public static Tensor AddScaledInPlace(this Tensor a, Tensor b, double alpha)
    {
        using var s = alpha.ToScalar();
        return a.add_(b, s);
    }

    /// <summary><c>t.addcmul_(a, b, value)</c>: t += value·a·b, returns <paramref name="t"/>.</summary>
    public static Tensor AddProductInPlace(this Tensor t, Tensor a, Tensor b, double value)
    {
        using var s = value.ToScalar();
        return t.addcmul_(a, b, s);
    }

    /// <summary><c>t.addcdiv_(a, b, value)</c>: t += value·a/b, returns <paramref name="t"/>.</summary>
    public static Tensor AddQuotientInPlace(this Tensor t, Tensor a, Tensor b, double value)
    {
        using var s = value.ToScalar();
        return t.addcdiv_(a, b, s);
    }

    // ---- in place ----

    /// <summary><c>t.add_(value)</c>: adds in place and returns <paramref name="t"/>.</summary>
    public static Tensor AddInPlace(this Tensor t, double value)
    {
        using var s = value.ToScalar();
        using var one = 1.ToScalar();
        return t.add_(s, one);
    }

    /// <summary><c>t.add_(value)</c> with an integer (keeps an integer tensor's dtype): adds in place, returns <paramref name="t"/>.</summary>
    public static Tensor AddInPlace(this Tensor t, long value)
    {
        using var s = value.ToScalar();
        using var one = 1.ToScalar();
        return t.add_(s, one);
    }

    /// <summary><c>t.mul_(value)</c>: multiplies in place and returns <paramref name="t"/>.</summary>
    public static Tensor MulInPlace(this Tensor t, double value)
    {
        using var s = value.ToScalar();
        return t.mul_(s);
    }

    /// <summary><c>t.div_(value)</c>: divides in place and returns <paramref name="t"/>.</summary>
    public static Tensor DivInPlace(this Tensor t, double value)
    {
        using var s = value.ToScalar();
        return t.div_(s);
    }

    /// <summary><c>t.div_(value)</c>: divides in place and returns <paramref name="t"/>.</summary>
    public static Tensor DivInPlace(this Tensor t, long value)
    {
        using var s = value.ToScalar();
        return t.div_(s);
    }

    // ---- factories ----

    /// <summary><c>torch.full(shape, value, dtype, device)</c>.</summary>
    public static Tensor Full(long[] shape, double value, ScalarType? dtype = null, Device? device = null)
    {
        using var s = value.ToScalar();
        return torch.full(shape, s, dtype: dtype, device: device);
    }
}
