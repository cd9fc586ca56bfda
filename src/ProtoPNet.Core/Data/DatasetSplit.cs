namespace ProtoPNet.Data;

/// <summary>Seeded, stratified train/validation splits: model selection never needs the test set.</summary>
public static class DatasetSplit
{
    /// <summary>
    /// Puts round(<paramref name="validationFraction"/> × n_k) items of each class k into validation (at least one when the
    /// class has two or more items and the fraction is above 0), chosen by a Fisher–Yates shuffle seeded with
    /// <paramref name="seed"/>; both parts keep the parent's item order.
    /// </summary>
    public static (SubsetDataset Train, SubsetDataset Validation) Stratified(ImageDataset dataset, double validationFraction, int seed)
    {
        if (!(validationFraction > 0 && validationFraction < 1))
            throw new ProtoPNetException("InvalidValidationFraction", ErrorKind.InvalidArgument,
                $"The validation fraction must be between 0 and 1 (exclusive); got {validationFraction}.", validationFraction);
        var byClass = new List<int>[dataset.ClassCount];
        for (int k = 0; k < byClass.Length; k++) byClass[k] = new List<int>();
        for (int i = 0; i < dataset.Count; i++) byClass[dataset.LabelOf(i)].Add(i);
        var random = new Random(seed);
        var validation = new HashSet<int>();
        foreach (var members in byClass)
        {
            int take = (int)Math.Round(validationFraction * members.Count, MidpointRounding.AwayFromZero);
            if (take == 0 && members.Count >= 2) take = 1;
            if (take >= members.Count && members.Count > 0) take = members.Count - 1;
            var shuffled = members.ToArray();
            for (int i = shuffled.Length - 1; i > 0; i--)
            {
                int j = random.Next(i + 1);
                (shuffled[i], shuffled[j]) = (shuffled[j], shuffled[i]);
            }
            for (int i = 0; i < take; i++) validation.Add(shuffled[i]);
        }
        var train = Enumerable.Range(0, dataset.Count).Where(i => !validation.Contains(i)).ToArray();
        var held = Enumerable.Range(0, dataset.Count).Where(validation.Contains).ToArray();
        string baseSplit = dataset.Split == "All" ? "" : dataset.Split + "/";
        return (new SubsetDataset(dataset, train, "Train", $"{dataset.Name} ({baseSplit}train part)"),
                new SubsetDataset(dataset, held, "Validation", $"{dataset.Name} ({baseSplit}validation part)"));
    }
}
