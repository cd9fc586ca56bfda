using ProtoPNet.Model;

namespace ProtoPNet.Projection;

/// <summary>Where one prototype went in a push: its <see cref="PrototypeProvenance"/>, with the prototype's index and class.</summary>
public sealed class PrototypeMove(int index, string @class, PrototypeProvenance? provenance)
{
    public int Index { get; } = index;
    public string Class { get; } = @class;
    /// <summary>False when the push set has no image of the prototype's class: the prototype was left unchanged.</summary>
    public bool Moved => provenance is not null;
    /// <summary>Squared L2 distance from the prototype before push to the patch it was projected onto (NaN when not moved).</summary>
    public double Distance => provenance?.Distance ?? double.NaN;
    public string SourceImage => provenance?.SourceImage ?? "";
    public int SourceIndex => provenance?.SourceIndex ?? -1;
    public int LatentRow => provenance?.LatentRow ?? 0;
    public int LatentColumn => provenance?.LatentColumn ?? 0;
    public int BoxX => provenance?.BoxX ?? 0;
    public int BoxY => provenance?.BoxY ?? 0;
    public int BoxWidth => provenance?.BoxWidth ?? 0;
    public int BoxHeight => provenance?.BoxHeight ?? 0;

    /// <summary>
    /// The lowest-numbered other prototype that push put on the same training patch (image, row, column), or null. Such
    /// prototypes are the same vector: they score every image alike and the last layer gives them equal weights.
    /// </summary>
    public int? SamePatchAs { get; private set; }

    /// <summary>Sets <see cref="SamePatchAs"/> over one push's moves; returns the number of distinct patches.</summary>
    internal static int MarkSharedPatches(IReadOnlyList<PrototypeMove> moves)
    {
        var first = new Dictionary<(int Image, int Row, int Column), int>();
        foreach (var move in moves.Where(x => x.Moved).OrderBy(x => x.Index))
        {
            var patch = (move.SourceIndex, move.LatentRow, move.LatentColumn);
            if (first.TryGetValue(patch, out int earlier)) move.SamePatchAs = earlier;
            else first[patch] = move.Index;
        }
        return first.Count;
    }
}
