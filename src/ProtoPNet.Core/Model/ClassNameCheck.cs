using ProtoPNet.Data;

namespace ProtoPNet.Model;

/// <summary>The check every stage makes before it runs a model over a dataset (training, push, last layer, testing).</summary>
public static class ClassNameCheck
{
    /// <summary>Throws ClassMismatch unless the dataset has the model's classes in the model's order.</summary>
    public static void RequireSameClasses(IClassifier model, ImageDataset dataset)
    {
        if (!model.ClassNames.SequenceEqual(dataset.ClassNames, StringComparer.Ordinal))
            throw new ProtoPNetException("ClassMismatch", ErrorKind.InvalidArgument,
                $"Dataset '{dataset.Name}' has classes ({Describe(dataset.ClassNames)}) but model '{model.Name}' was built for ({Describe(model.ClassNames)}). " +
                "The class names and their order must be the same.", dataset.Name);
    }

    private static string Describe(IReadOnlyList<string> names) =>
        names.Count <= 6 ? string.Join(", ", names) : $"{names.Count}: {string.Join(", ", names.Take(5))}, …";
}
