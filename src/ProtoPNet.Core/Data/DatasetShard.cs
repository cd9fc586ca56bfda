namespace ProtoPNet.Data;

/// <summary>
/// Splits a data set's items over <c>n</c> shards for inference on several processes or hosts: item <c>i</c>
/// belongs to shard <c>i mod n</c> (round robin). Shards are disjoint, cover every item, depend only on the item
/// count, and are balanced to within one item; round robin also mixes the classes of data sets stored class by
/// class (IDX, image folders), so every shard costs about the same.
/// </summary>
public static class DatasetShard
{
    /// <summary>Throws InvalidShard unless 1 ≤ <paramref name="shardCount"/> and 0 ≤ <paramref name="shardIndex"/> &lt; <paramref name="shardCount"/>.</summary>
    public static void Validate(int shardIndex, int shardCount)
    {
        if (shardCount < 1 || shardIndex < 0 || shardIndex >= shardCount)
            throw new ProtoPNetException("InvalidShard", ErrorKind.InvalidArgument,
                $"Shard {shardIndex} of {shardCount} does not exist: the shard count must be 1 or more and the shard index 0 … count − 1.",
                $"{shardIndex}/{shardCount}");
    }

    /// <summary>True when item <paramref name="index"/> belongs to shard <paramref name="shardIndex"/> of <paramref name="shardCount"/>.</summary>
    public static bool Contains(int index, int shardIndex, int shardCount) => index % shardCount == shardIndex;

    /// <summary>The items of shard <paramref name="shardIndex"/> of a data set with <paramref name="count"/> items, ascending.</summary>
    public static int[] Indices(int count, int shardIndex, int shardCount)
    {
        Validate(shardIndex, shardCount);
        if (count <= shardIndex) return [];
        var result = new int[(count - shardIndex + shardCount - 1) / shardCount];
        for (int j = 0, i = shardIndex; i < count; j++, i += shardCount) result[j] = i;
        return result;
    }

    /// <summary>The items of <paramref name="indices"/> (or of all <paramref name="count"/> items) that belong to the shard, in their order.</summary>
    public static int[] Select(int count, IReadOnlyList<int>? indices, int shardIndex, int shardCount)
    {
        Validate(shardIndex, shardCount);
        return indices is null ? Indices(count, shardIndex, shardCount) : indices.Where(i => i >= 0 ? Contains(i, shardIndex, shardCount) : shardIndex == 0).ToArray();
    }
}
