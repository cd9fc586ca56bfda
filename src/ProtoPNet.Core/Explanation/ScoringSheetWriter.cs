using ProtoPNet.Rendering;
using System.Globalization;
using System.Net;
using System.Text;
using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Persistence;
using ProtoPNet.Runtime;

namespace ProtoPNet.Explanation;

/// <summary>One class's part of a scoring sheet: the top evidence (with the weight to this class) and the class total.</summary>
internal sealed record SheetSection(string Title, string ClassName, double Logit, double Probability,
    List<(Evidence Evidence, double Weight)> Shown, int PrototypeCount, double Total);

internal sealed record SheetImage(int ImageIndex, string ImagePath, string TrueClass, ImageGeometry Geometry, float[] Pixels,
    List<SheetSection> Sections);

/// <summary>
/// Writes the pictures of an explanation in the spirit of the paper's Figure 3: per image a folder of PNGs (the input,
/// and per shown prototype the input with its box and the activation-map overlay) and an HTML page that links them
/// by relative paths, so the output folder opens offline anywhere. Prototype pictures are shared in prototypes/.
/// </summary>
internal sealed class ScoringSheetWriter
{
    private readonly IClassifier classifier;
    private readonly string[] memberNames;
    private readonly string directory;
    private readonly PrototypePictures prototypes;
    private readonly List<(int Index, string ImagePath, string Predicted, string TrueClass, string Sheet)> index = new();

    public ScoringSheetWriter(IClassifier classifier, string[] memberNames, string directory, ImageDataset? pushDataset, BoxMethod boxMethod)
    {
        this.classifier = classifier;
        this.memberNames = memberNames;
        this.directory = Path.GetFullPath(directory);
        Directory.CreateDirectory(this.directory);
        prototypes = new PrototypePictures(Path.Combine(this.directory, "prototypes"), classifier.ImageSize, pushDataset, boxMethod);
    }

    /// <summary>Writes the sheet of one image; returns its full path.</summary>
    public string Write(SheetImage image)
    {
        int size = classifier.ImageSize, scale = Pictures.DisplayScale(size), thickness = Math.Max(1, scale / 2);
        string stem = $"{image.ImageIndex:D5}-{SafeName(image.ImagePath)}";
        string files = stem + "_files";
        string folder = Path.Combine(directory, files);
        Directory.CreateDirectory(folder);
        using (var input = Pictures.FromChw(image.Pixels, size))
        {
            Pictures.Enlarge(input, scale);
            Pictures.Save(input, Path.Combine(folder, "input.png"));
        }

        var html = new StringBuilder();
        string title = $"Why {image.Sections[0].ClassName}? {Path.GetFileName(image.ImagePath)}";
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(Enc(title)).Append("</title>\n")
            .Append("<style>").Append(Style).Append("</style></head>\n<body>\n");
        html.Append("<h1>").Append(Enc(Path.GetFileName(image.ImagePath))).Append("</h1>\n<div class=\"head\"><img class=\"input\" src=\"")
            .Append(Url(files, "input.png")).Append("\" alt=\"model input\"><div><p>").Append(Enc(image.ImagePath)).Append("</p>\n");
        foreach (var s in image.Sections)
            html.Append("<p><b>").Append(Enc(s.Title)).Append(":</b> ").Append(Enc(s.ClassName)).Append(" — ")
                .Append(F(s.Total)).Append(" points, probability ").Append(s.Probability.ToString("P1", CultureInfo.InvariantCulture)).Append("</p>\n");
        if (image.TrueClass.Length > 0) html.Append("<p><b>True class:</b> ").Append(Enc(image.TrueClass)).Append("</p>\n");
        html.Append("<p class=\"note\">Pictures show the model input (").Append(size).Append('×').Append(size)
            .Append(" px). Boxes, on both sides: ").Append(Enc(ImageRegion.Describe(prototypes.BoxMethod))).Append(" (-BoxMethod ").Append(prototypes.BoxMethod)
            .Append("). Receptive field of a latent patch: ")
            .Append(string.Join(", ", classifier.Members.Select(m => $"{m.Network.Backbone.ReceptiveField.Size} px ({m.Backbone})").Distinct()))
            .Append(".</p></div></div>\n");

        foreach (var section in image.Sections)
        {
            html.Append("<h2>").Append(Enc(section.Title)).Append(": ").Append(Enc(section.ClassName)).Append("</h2>\n<table>\n<tr><th>#</th>");
            if (memberNames.Length > 1) html.Append("<th>Model</th>");
            html.Append("<th>This part of the image…</th><th>…looks like this prototype</th><th>from this training image</th><th>Activation map</th>")
                .Append("<th>Similarity</th><th>× Weight</th><th>= Points</th></tr>\n");
            int rank = 0;
            foreach (var (e, weight) in section.Shown)
            {
                rank++;
                var model = classifier.Members[e.Member];
                string name = $"m{e.Member}-p{e.Prototype}";
                using (var boxed = Pictures.FromChw(image.Pixels, size))
                {
                    Pictures.Enlarge(boxed, scale);
                    Pictures.DrawBox(boxed, Pictures.Scale(e.InputBox, scale), Pictures.BoxColor, thickness);
                    Pictures.Save(boxed, Path.Combine(folder, name + "-box.png"));
                }
                using (var heat = Pictures.HeatOverlay(image.Pixels, e.Map!, size))
                {
                    Pictures.Enlarge(heat, scale);
                    Pictures.DrawBox(heat, Pictures.Scale(e.InputBox, scale), Pictures.BoxColor, thickness);
                    Pictures.Save(heat, Path.Combine(folder, name + "-heat.png"));
                }
                var (patch, source) = prototypes.Get(model, e.Member, e.Prototype);
                string protoClass = model.ClassNames[model.PrototypeClass[e.Prototype]];
                html.Append("<tr><td>").Append(rank).Append("</td>");
                if (memberNames.Length > 1) html.Append("<td>").Append(Enc(memberNames[e.Member])).Append("</td>");
                html.Append("<td><img src=\"").Append(Url(files, name + "-box.png")).Append("\" alt=\"box\"></td>")
                    .Append("<td>").Append(patch is null ? "<span class=\"missing\">not pushed or source not found</span>" : $"<img class=\"patch\" src=\"{Url("prototypes", patch)}\" alt=\"prototype patch\">")
                    .Append("<br>prototype ").Append(e.Prototype).Append(", class ").Append(Enc(protoClass))
                    .Append(model.Provenance[e.Prototype] is { } pv && prototypes.FallbackCaption(pv) is { } caption
                        ? "<br><span class=\"note\">" + Enc(caption) + "</span>" : "").Append("</td>")
                    .Append("<td>").Append(source is null ? "" : $"<img src=\"{Url("prototypes", source)}\" alt=\"prototype source\"><br><span class=\"path\">{Enc(model.Provenance[e.Prototype]?.SourceImage ?? "")}</span>").Append("</td>")
                    .Append("<td><img src=\"").Append(Url(files, name + "-heat.png")).Append("\" alt=\"activation map\"></td>")
                    .Append("<td class=\"n\">").Append(F(e.Similarity)).Append("</td><td class=\"n\">").Append(F(weight))
                    .Append("</td><td class=\"n\">").Append(F(e.Similarity * weight)).Append("</td></tr>\n");
            }
            int span = memberNames.Length > 1 ? 8 : 7;
            double shownPoints = section.Shown.Sum(s => s.Evidence.Similarity * s.Weight);
            if (section.PrototypeCount > section.Shown.Count)
                html.Append("<tr class=\"rest\"><td colspan=\"").Append(span).Append("\">the other ").Append(section.PrototypeCount - section.Shown.Count)
                    .Append(" prototypes</td><td class=\"n\">").Append(F(section.Total - shownPoints)).Append("</td></tr>\n");
            html.Append("<tr class=\"total\"><td colspan=\"").Append(span).Append("\">Total points for ").Append(Enc(section.ClassName))
                .Append(" (the logit)</td><td class=\"n\">").Append(F(section.Total)).Append("</td></tr>\n</table>\n");
        }
        html.Append("</body></html>\n");
        string path = Path.Combine(directory, stem + ".html");
        AtomicFile.Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(html.ToString())));
        index.Add((image.ImageIndex, image.ImagePath, image.Sections[0].ClassName, image.TrueClass, stem + ".html"));
        return path;
    }

    /// <summary>index.html: one line per explained image, linking its sheet.</summary>
    public void WriteIndex()
    {
        if (index.Count == 0) return;
        var html = new StringBuilder("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Explanations</title><style>")
            .Append(Style).Append("</style></head>\n<body>\n<h1>Explanations by ").Append(Enc(classifier.Name)).Append("</h1>\n<table>\n<tr><th>#</th><th>Image</th><th>Explained class</th><th>True class</th></tr>\n");
        foreach (var (i, imagePath, predicted, trueClass, sheet) in index)
            html.Append("<tr><td>").Append(i).Append("</td><td><a href=\"").Append(Uri.EscapeDataString(sheet)).Append("\">").Append(Enc(imagePath))
                .Append("</a></td><td>").Append(Enc(predicted)).Append("</td><td>").Append(Enc(trueClass)).Append("</td></tr>\n");
        html.Append("</table></body></html>\n");
        AtomicFile.Write(Path.Combine(directory, "index.html"), stream => stream.Write(Encoding.UTF8.GetBytes(html.ToString())));
    }

    internal const string Style =
        "body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin-bottom:2em}" +
        "th,td{border:1px solid #ccc;padding:4px 8px;vertical-align:middle;text-align:center}th{background:#f3f3f3}" +
        "td.n{text-align:right;font-variant-numeric:tabular-nums}tr.total td{font-weight:bold;background:#f8f8f0}tr.rest td{color:#666}" +
        "img{image-rendering:pixelated;max-width:240px}img.patch{max-width:96px}.head{display:flex;gap:1.5em;align-items:flex-start}" +
        ".note{color:#555;font-size:90%;max-width:50em}.path{font-size:75%;color:#666;word-break:break-all}.missing{color:#a00;font-size:85%}";

    internal static string Enc(string text) => WebUtility.HtmlEncode(text);

    internal static string Url(string folder, string file) => Uri.EscapeDataString(folder) + "/" + Uri.EscapeDataString(file);

    internal static string F(double v) => v.ToString("0.####", CultureInfo.InvariantCulture);

    /// <summary>A file-name-safe stem of the image's name (dataset sources such as "train-images#12" included).</summary>
    internal static string SafeName(string imagePath)
    {
        string name = Path.GetFileNameWithoutExtension(imagePath.Replace('#', '-'));
        var chars = name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').Take(60).ToArray();
        return chars.Length == 0 ? "image" : new string(chars);
    }
}
