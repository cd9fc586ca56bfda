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
/// prototypes.html: every prototype of a model (or of each ensemble member) grouped by class, each with its patch
/// and the training image it was projected onto, box drawn. Pictures go to prototypes/ beside the page.
/// </summary>
public static class PrototypeGallery
{
    /// <returns>The full path of the page.</returns>
    public static string Write(IClassifier classifier, string directory, ImageDataset? pushDataset = null)
    {
        directory = Path.GetFullPath(directory);
        Directory.CreateDirectory(directory);
        var pictures = new PrototypePictures(Path.Combine(directory, "prototypes"), classifier.ImageSize, pushDataset);
        var memberNames = classifier is ProtoPNetEnsemble e ? e.MemberNames.ToArray() : [classifier.Name];
        var html = new StringBuilder("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Prototypes of ")
            .Append(Enc(classifier.Name)).Append("</title><style>").Append(Style)
            .Append(".cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:2em}.card{border:1px solid #ccc;padding:6px;text-align:center;font-size:85%}")
            .Append("</style></head>\n<body>\n<h1>Prototypes of ").Append(Enc(classifier.Name)).Append("</h1>\n");
        for (int c = 0; c < classifier.ClassNames.Count; c++)
        {
            html.Append("<h2>").Append(Enc(classifier.ClassNames[c])).Append("</h2>\n<div class=\"cards\">\n");
            int shown = 0;
            for (int m = 0; m < classifier.Members.Count; m++)
            {
                var model = classifier.Members[m];
                for (int j = 0; j < model.PrototypeCount; j++)
                {
                    if (model.PrototypeClass[j] != c) continue;
                    shown++;
                    var (patch, source) = pictures.Get(model, m, j);
                    var p = model.Provenance[j];
                    html.Append("<div class=\"card\">");
                    if (patch is not null) html.Append("<img class=\"patch\" src=\"").Append(Url("prototypes", patch)).Append("\" alt=\"patch\"><br>");
                    if (source is not null) html.Append("<img src=\"").Append(Url("prototypes", source)).Append("\" alt=\"source\"><br>");
                    if (patch is null && source is null) html.Append("<span class=\"missing\">").Append(p is null ? "not pushed yet" : "source image not found").Append("</span><br>");
                    if (memberNames.Length > 1) html.Append(Enc(memberNames[m])).Append(' ');
                    html.Append("prototype ").Append(j);
                    if (p is not null)
                        html.Append("<br><span class=\"path\">").Append(Enc(p.SourceImage)).Append("</span><br>patch (")
                            .Append(p.LatentRow).Append(',').Append(p.LatentColumn).Append("), moved ").Append(p.Distance.ToString("0.####", CultureInfo.InvariantCulture)).Append(" at push");
                    html.Append("</div>\n");
                }
            }
            if (shown == 0) html.Append("<p class=\"missing\">no prototypes (pruned)</p>\n");
            html.Append("</div>\n");
        }
        html.Append("</body></html>\n");
        string path = Path.Combine(directory, "prototypes.html");
        AtomicFile.Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(html.ToString())));
        return path;
    }
}
