using ProtoPNet.Data;
using ProtoPNet.Runtime;
using static TorchSharp.torch;

namespace ProtoPNet.Model;

/// <summary>
/// Several ProtoPNets over the same classes whose logits are added (docs/algorithm.md §8). Its explanation is the
/// union of the members' scoring sheets. The ensemble does not own its members: disposing it leaves them alone.
/// </summary>
public sealed class ProtoPNetEnsemble : IClassifier
{
    private readonly ProtoPNetModel[] members;
    private readonly string[] memberNames;

    /// <param name="members">At least one model; ensembles among them are flattened into their members.</param>
    public ProtoPNetEnsemble(IEnumerable<IClassifier> members, string? name = null)
    {
        var flat = new List<(ProtoPNetModel Model, string Name)>();
        foreach (var c in members)
        {
            if (c is ProtoPNetEnsemble e) flat.AddRange(e.members.Zip(e.memberNames));
            else if (c is ProtoPNetModel m) flat.Add((m, m.Name));
            else throw new ArgumentException($"Unsupported classifier type {c.GetType().Name}.", nameof(members));
        }
        if (flat.Count == 0)
            throw new ProtoPNetException("EmptyEnsemble", ErrorKind.InvalidArgument, "An ensemble needs at least one model.");
        var first = flat[0].Model;
        foreach (var (m, n) in flat.Skip(1))
        {
            string? why = !m.ClassNames.SequenceEqual(first.ClassNames, StringComparer.Ordinal) ? "its class names (or their order) differ"
                : m.ImageSize != first.ImageSize ? $"its image size is {m.ImageSize}, not {first.ImageSize}"
                : !m.Normalization.Equals(first.Normalization) ? $"its input normalization ({m.Normalization}) differs from {first.Normalization}"
                : null;
            if (why is not null)
                throw new ProtoPNetException("EnsembleMismatch", ErrorKind.InvalidArgument,
                    $"Model '{n}' cannot join an ensemble with '{flat[0].Name}': {why}. Ensemble members must share class names, image size and normalization.", n);
        }
        this.members = flat.Select(f => f.Model).ToArray();
        memberNames = UniqueNames(flat.Select(f => f.Name));
        Name = name ?? string.Join("+", memberNames);
    }

    /// <summary>Member names as given, made unique by suffixes "#2", "#3"… so every prototype's member can be named.</summary>
    private static string[] UniqueNames(IEnumerable<string> names)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        return names.Select(n =>
        {
            string baseName = string.IsNullOrEmpty(n) ? "model" : n;
            int count = seen[baseName] = seen.GetValueOrDefault(baseName) + 1;
            return count == 1 ? baseName : $"{baseName}#{count}";
        }).ToArray();
    }

    public string Name { get; set; }
    public IReadOnlyList<ProtoPNetModel> Members => members;
    public IReadOnlyList<string> MemberNames => memberNames;
    public IReadOnlyList<string> ClassNames => members[0].ClassNames;
    public int ImageSize => members[0].ImageSize;
    public ImageNormalization Normalization => members[0].Normalization;
    public string Backbone => string.Join("+", members.Select(m => m.Backbone));
    public int PrototypeCount => members.Sum(m => m.PrototypeCount);
    public long TrainableParameterCount => members.Sum(m => m.TrainableParameterCount);

    /// <summary>The sum of the members' logits; each member runs under its own SyncRoot.</summary>
    public Tensor Logits(Tensor normalizedImages)
    {
        Tensor? sum = null;
        foreach (var m in members)
        {
            var logits = m.Logits(normalizedImages);
            if (sum is null) sum = logits;
            else
            {
                sum.AddInPlace(logits);
                logits.Dispose();
            }
        }
        return sum!;
    }

    public override string ToString() =>
        $"{Name}: ensemble of {members.Length} ({string.Join(", ", memberNames)}), {ClassNames.Count} classes, {PrototypeCount} prototypes";
}
