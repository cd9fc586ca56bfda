using ProtoPNet.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace ProtoPNet.LastLayer;

/// <summary>
/// Prototypes whose similarity columns are identical, merged for the last-layer solve. Push puts several prototypes of a
/// class on the same training patch (measured: 2,000 prototypes on Fashion-MNIST pushed to 532 distinct patches), and
/// identical columns make the problem degenerate: its Hessian is singular along every difference of their weights, which
/// every solver pays for in iterations. The merged problem is the same problem: with u_kG = Σ_{j∈G} w_kj the logits are
/// equal, and the smallest penalty for a given u_kG is 0 when some prototype of the group is unpenalized for class k (its
/// class) and |u_kG| otherwise, so the merged mask is the group's minimum. Back in the full problem u_kG is spread evenly:
/// over the group's unpenalized members (the others 0), or over all members with one sign — an optimum of the full
/// problem with the same objective and the same optimality (each member's gradient is its group's), and the same weight
/// for indistinguishable prototypes, as an explanation should show them.
/// </summary>
internal sealed class DuplicatePrototypes
{
    private readonly long[] representatives;   // the first member of each group, ascending
    private readonly int[] groupOf;            // prototype → group

    private DuplicatePrototypes(long[] representatives, int[] groupOf)
    {
        this.representatives = representatives;
        this.groupOf = groupOf;
    }

    public int GroupCount => representatives.Length;

    /// <summary>The groups of identical columns of <paramref name="s"/> ([N, m] float64); null when every column is distinct.</summary>
    public static DuplicatePrototypes? Find(Tensor s)
    {
        using var scope = NewDisposeScope();
        var values = s.contiguous();
        int n = (int)values.shape[0], m = (int)values.shape[1];
        ReadOnlySpan<double> data = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(values.bytes);
        // One pass over the rows hashes every column's bits; equal hashes are then compared exactly.
        var hashes = new ulong[m];
        for (int i = 0; i < n; i++)
        {
            var row = data.Slice(i * m, m);
            for (int j = 0; j < m; j++)
                hashes[j] = (hashes[j] ^ (ulong)BitConverter.DoubleToInt64Bits(row[j])) * 0x100000001B3UL;
        }
        var groupOf = new int[m];
        var representatives = new List<long>();
        var byHash = new Dictionary<ulong, List<int>>();   // hash → groups with that hash
        for (int j = 0; j < m; j++)
        {
            if (!byHash.TryGetValue(hashes[j], out var candidates)) byHash[hashes[j]] = candidates = [];
            int match = -1;
            foreach (int group in candidates)
                if (SameColumn(data, n, m, (int)representatives[group], j)) { match = group; break; }
            if (match < 0)
            {
                match = representatives.Count;
                representatives.Add(j);
                candidates.Add(match);
            }
            groupOf[j] = match;
        }
        return representatives.Count == m ? null : new DuplicatePrototypes([.. representatives], groupOf);
    }

    private static bool SameColumn(ReadOnlySpan<double> data, int n, int m, int a, int b)
    {
        for (int i = 0; i < n; i++)
            if (BitConverter.DoubleToInt64Bits(data[i * m + a]) != BitConverter.DoubleToInt64Bits(data[i * m + b])) return false;
        return true;
    }

    /// <summary>The merged problem: S's representative columns, the group minimum of the mask, the group sums of W.</summary>
    public (Tensor S, Tensor Mask, Tensor W) Merge(Tensor s, Tensor mask, Tensor w)
    {
        int classes = (int)mask.shape[0], m = groupOf.Length, groups = GroupCount;
        var maskValues = mask.contiguous().data<double>().ToArray();
        var weights = w.contiguous().data<double>().ToArray();
        var mergedMask = MergedMask(maskValues, classes);
        var mergedWeights = new double[classes * groups];
        for (int k = 0; k < classes; k++)
            for (int j = 0; j < m; j++) mergedWeights[k * groups + groupOf[j]] += weights[k * m + j];
        using var index = torch.tensor(representatives);
        return (s.index_select(1, index), torch.tensor(mergedMask, [classes, groups], ScalarType.Float64),
            torch.tensor(mergedWeights, [classes, groups], ScalarType.Float64));
    }

    /// <summary>Merged weights [K, groups] back to every prototype [K, m], spread as the class summary says.</summary>
    public Tensor Spread(Tensor merged, Tensor mask)
    {
        int classes = (int)mask.shape[0], m = groupOf.Length, groups = GroupCount;
        var maskValues = mask.contiguous().data<double>().ToArray();
        var mergedValues = merged.contiguous().data<double>().ToArray();
        var mergedMask = MergedMask(maskValues, classes);
        // Members that share the group's weight: the unpenalized ones where the group has one, else every member.
        var shares = new int[classes * groups];
        for (int k = 0; k < classes; k++)
            for (int j = 0; j < m; j++)
                if (maskValues[k * m + j] == mergedMask[k * groups + groupOf[j]]) shares[k * groups + groupOf[j]]++;
        var weights = new double[classes * m];
        for (int k = 0; k < classes; k++)
            for (int j = 0; j < m; j++)
            {
                int g = k * groups + groupOf[j];
                if (maskValues[k * m + j] == mergedMask[g]) weights[k * m + j] = mergedValues[g] / shares[g];
            }
        return torch.tensor(weights, [classes, m], ScalarType.Float64);
    }

    private double[] MergedMask(double[] mask, int classes)
    {
        int m = groupOf.Length, groups = GroupCount;
        var merged = Enumerable.Repeat(double.PositiveInfinity, classes * groups).ToArray();
        for (int k = 0; k < classes; k++)
            for (int j = 0; j < m; j++) merged[k * groups + groupOf[j]] = Math.Min(merged[k * groups + groupOf[j]], mask[k * m + j]);
        return merged;
    }
}
