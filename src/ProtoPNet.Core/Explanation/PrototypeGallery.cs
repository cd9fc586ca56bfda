using ProtoPNet.Rendering;
using System.Globalization;
using System.Text;
using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Persistence;
using ProtoPNet.Runtime;
using static ProtoPNet.Explanation.ScoringSheetWriter;

namespace ProtoPNet.Explanation;

/// <summary>
/// prototypes.html: every prototype of a model (or of each ensemble member) grouped by class and ordered by how much it
/// decides — its own-class weight, then how often it is the top evidence when a data set was measured — each with its
/// patch and the training image it was projected onto, the box of <see cref="BoxMethod"/> drawn. Prototypes that carry
/// no positive weight are greyed out; pruned ones are listed from the model's history. Pictures go to prototypes/.
/// </summary>
public static class PrototypeGallery
{
    /// <param name="usage">Per member, per prototype (<see cref="PrototypeUsageMeter"/>); weights are read from the model when null.</param>
    /// <returns>The full path of the page.</returns>
    public static string Write(IClassifier classifier, string directory, ImageDataset? pushDataset = null,
        BoxMethod boxMethod = BoxMethod.ReceptiveField, IReadOnlyList<PrototypeUsage>[]? usage = null)
    {
        directory = Path.GetFullPath(directory);
        Directory.CreateDirectory(directory);
        usage ??= PrototypeUsageMeter.Weights(classifier);
        var pictures = new PrototypePictures(Path.Combine(directory, "prototypes"), classifier.ImageSize, pushDataset, boxMethod);
        var memberNames = classifier is ProtoPNetEnsemble e ? e.MemberNames.ToArray() : [classifier.Name];
        var html = new StringBuilder("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Prototypes of ")
            .Append(Enc(classifier.Name)).Append("</title><style>").Append(Style)
            .Append(".cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:2em}.card{border:1px solid #ccc;padding:6px;text-align:center;font-size:85%}")
            .Append(".card.idle{opacity:.4;border-style:dashed}")
            .Append("</style></head>\n<body>\n<h1>Prototypes of ").Append(Enc(classifier.Name)).Append("</h1>\n")
            .Append("<p class=\"note\">Per class, ordered by the prototype's weight for its class");
        if (usage.SelectMany(u => u).Select(u => u.Images).FirstOrDefault(i => i is not null) is int measured)
            html.Append(" (then by how often it is the top evidence, over ").Append(measured).Append(" images)");
        html.Append(". Greyed out: no positive weight, so it adds nothing to its class. Boxes: ").Append(Enc(ImageRegion.Describe(boxMethod)))
            .Append(" (-BoxMethod ").Append(boxMethod).Append(").</p>\n");
        for (int m = 0; m < classifier.Members.Count; m++)
            foreach (var h in classifier.Members[m].History.Where(h => h.Stage == "Prune"))
                html.Append("<p class=\"note\">").Append(memberNames.Length > 1 ? Enc(memberNames[m]) + ": " : "").Append("pruned ")
                    .Append(h.Values.GetValueOrDefault("Removed")).Append(" prototypes on ").Append(h.Time.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture))
                    .Append(" UTC (").Append(Enc(h.Note ?? "")).Append(", indices before pruning).</p>\n");
        for (int c = 0; c < classifier.ClassNames.Count; c++)
        {
            html.Append("<h2>").Append(Enc(classifier.ClassNames[c])).Append("</h2>\n<div class=\"cards\">\n");
            var ofClass = Enumerable.Range(0, classifier.Members.Count)
                .SelectMany(m => Enumerable.Range(0, classifier.Members[m].PrototypeCount).Where(j => classifier.Members[m].PrototypeClass[j] == c).Select(j => usage[m][j]))
                .OrderByDescending(u => u.Weight).ThenByDescending(u => u.TopEvidence ?? 0).ThenBy(u => u.Member).ThenBy(u => u.Prototype).ToList();
            foreach (var u in ofClass)
            {
                var model = classifier.Members[u.Member];
                int j = u.Prototype;
                var (patch, source) = pictures.Get(model, u.Member, j);
                var p = model.Provenance[j];
                html.Append(u.CarriesWeight ? "<div class=\"card\">" : "<div class=\"card idle\">");
                if (patch is not null) html.Append("<img class=\"patch\" src=\"").Append(Url("prototypes", patch)).Append("\" alt=\"patch\"><br>");
                if (source is not null) html.Append("<img src=\"").Append(Url("prototypes", source)).Append("\" alt=\"source\"><br>");
                if (patch is null && source is null) html.Append("<span class=\"missing\">").Append(p is null ? "not pushed yet" : "source image not found").Append("</span><br>");
                if (memberNames.Length > 1) html.Append(Enc(memberNames[u.Member])).Append(' ');
                html.Append("prototype ").Append(j).Append("<br>weight ").Append(u.Weight.ToString("0.###", CultureInfo.InvariantCulture))
                    .Append(" (").Append(u.WeightShare.ToString("P0", CultureInfo.InvariantCulture)).Append(" of the class's)");
                if (u.TopEvidence is int top) html.Append("<br>top evidence in ").Append(top).Append(" of ").Append(u.Images).Append(" images");
                if (p is not null)
                {
                    html.Append("<br><span class=\"path\">").Append(Enc(p.SourceImage)).Append("</span><br>patch (")
                        .Append(p.LatentRow).Append(',').Append(p.LatentColumn).Append("), moved ").Append(p.Distance.ToString("0.####", CultureInfo.InvariantCulture)).Append(" at push");
                    if (pictures.FallbackCaption(p) is { } caption) html.Append("<br><span class=\"note\">").Append(Enc(caption)).Append("</span>");
                }
                html.Append("</div>\n");
            }
            if (ofClass.Count == 0) html.Append("<p class=\"missing\">no prototypes (pruned)</p>\n");
            html.Append("</div>\n");
        }
        html.Append("</body></html>\n");
        string path = Path.Combine(directory, "prototypes.html");
        AtomicFile.Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(html.ToString())));
        return path;
    }
}
