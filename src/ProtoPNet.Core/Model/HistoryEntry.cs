namespace ProtoPNet.Model;

/// <summary>One line of a model's training history (any stage), kept in the model file.</summary>
public sealed record HistoryEntry
{
    public required string Stage { get; init; }
    public DateTimeOffset Time { get; init; } = DateTimeOffset.UtcNow;
    public Dictionary<string, double> Values { get; init; } = new();
    public string? Note { get; init; }

    /// <summary>History values without NaN or infinities, which JSON (the model file's header) cannot hold.</summary>
    public static Dictionary<string, double> Finite(Dictionary<string, double> values) =>
        values.Where(kv => double.IsFinite(kv.Value)).ToDictionary(kv => kv.Key, kv => kv.Value);

    /// <summary>A stage's history line: its name, its finite values, and a note.</summary>
    public static HistoryEntry Record(string stage, string? note, Dictionary<string, double> values) =>
        new() { Stage = stage, Values = Finite(values), Note = note };
}
