using ProtoPNet.Model;

namespace ProtoPNet.Persistence;

/// <summary>Prototype provenance from the authors' push records.</summary>
public static class AuthorsPushRecords
{
    /// <summary>
    /// Reads bb*.npy (one row per prototype: push-set image index, y start, y end, x start, x end, class; ends
    /// exclusive; −1 where a prototype was not pushed) and attaches it as provenance. With the push dataset (the
    /// same folder, in the same sorted order as torchvision's ImageFolder) the source image is named and the box
    /// mapped from the input size to the image's own pixels; without it, the source is "#index" and the box stays
    /// in input pixels. Returns how many prototypes got provenance.
    /// </summary>
    public static int Attach(ProtoPNetModel model, string npyPath, Data.ImageDataset? pushDataset)
    {
        var (shape, values) = NpyReader.Read(npyPath);
        if (shape.Length != 2 || shape[1] < 5 || shape[0] != model.PrototypeCount)
            throw new ProtoPNetException("PushRecordsMismatch", ErrorKind.InvalidData,
                $"'{npyPath}' holds an array of shape ({string.Join(", ", shape)}); expected ({model.PrototypeCount}, 6) — one row per prototype.", npyPath);
        int columns = (int)shape[1], attached = 0, size = model.ImageSize;
        for (int j = 0; j < model.PrototypeCount; j++)
        {
            var row = values.AsSpan(j * columns, columns);
            int index = (int)row[0];
            if (index < 0) continue;
            int y0 = (int)row[1], y1 = (int)row[2], x0 = (int)row[3], x1 = (int)row[4];
            string source = $"#{index}";
            (int X, int Y, int W, int H) box = (x0, y0, x1 - x0, y1 - y0);
            if (pushDataset is not null)
            {
                if (index >= pushDataset.Count)
                    throw new ProtoPNetException("PushRecordsMismatch", ErrorKind.InvalidData,
                        $"Prototype {j} was pushed onto image {index}, but the push dataset has {pushDataset.Count} images.", npyPath);
                source = pushDataset.SourceOf(index);
                using var loaded = pushDataset.Load(index, size);
                box = loaded.Geometry.ToOriginal(x0, y0, x1 - x0, y1 - y0);
            }
            model.SetProvenance(j, new PrototypeProvenance
            {
                SourceImage = source, SourceIndex = index, LatentRow = -1, LatentColumn = -1,
                BoxX = box.X, BoxY = box.Y, BoxWidth = box.W, BoxHeight = box.H, Distance = double.NaN,
            });
            attached++;
        }
        return attached;
    }
}
