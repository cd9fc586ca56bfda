using System.Globalization;
using System.Net;
using System.Text;
using ProtoPNet.Data;
using ProtoPNet.Model;
using ProtoPNet.Persistence;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using ProtoPNet.Runtime;

namespace ProtoPNet.Interpretability;

/// <summary>
/// The <c>-OutputDirectory</c> page: <c>interpretability.html</c> with the metric table, <c>curves.png</c> (deletion
/// and insertion curves beside their random-order curves) and the most and least consistent prototypes with their
/// push patches. Every file is written whole or not at all.
/// </summary>
public static class InterpretabilityPage
{
    public const string PageName = "interpretability.html";
    public const string CurvesName = "curves.png";

    private static readonly (string Metric, bool Random, Rgb24 Colour, string Css, string Label)[] Series =
    [
        ("Deletion", false, new Rgb24(200, 30, 30), "#c81e1e", "deletion, by saliency"),
        ("Deletion", true, new Rgb24(240, 160, 160), "#f0a0a0", "deletion, random order"),
        ("Insertion", false, new Rgb24(30, 70, 200), "#1e46c8", "insertion, by saliency"),
        ("Insertion", true, new Rgb24(160, 180, 240), "#a0b4f0", "insertion, random order"),
    ];

    /// <param name="boxMethod">The box the push patches are cut by: the one the pointing game used.</param>
    public static IReadOnlyList<string> Write(string directory, InterpretabilityReport report, IClassifier classifier, ImageDataset dataset,
        BoxMethod boxMethod = BoxMethod.ReceptiveField, CancellationToken cancel = default)
    {
        Directory.CreateDirectory(directory);
        var files = new List<string>();
        var html = new StringBuilder();
        string Esc(string s) => WebUtility.HtmlEncode(s);
        string Num(double? v, string format = "0.####") => v is double d && !double.IsNaN(d) ? d.ToString(format, CultureInfo.InvariantCulture) : "";
        html.Append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Interpretability of ").Append(Esc(classifier.Name)).Append("</title>\n")
            .Append("<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}")
            .Append("th{background:#eee}td.l{text-align:left}img.patch{image-rendering:pixelated;border:1px solid #888}.key span{display:inline-block;width:2em;height:0.6em;margin:0 0.4em}</style></head><body>\n")
            .Append("<h1>Interpretability of ").Append(Esc(classifier.Name)).Append(" on ").Append(Esc(dataset.Name)).Append("</h1>\n")
            .Append("<table id=\"metrics\"><tr><th>Metric</th><th>Value</th><th>Chance</th><th>Chance is</th><th>Images</th><th>Prototypes</th><th>Seconds</th><th>Images/s</th><th>Box / baseline</th></tr>\n");
        foreach (var m in report.Metrics)
            html.Append("<tr><td class=\"l\">").Append(Esc(m.Metric)).Append("</td><td>").Append(Num(m.Value)).Append("</td><td>").Append(Num(m.Chance))
                .Append("</td><td class=\"l\">").Append(Esc(m.ChanceMeaning)).Append("</td><td>").Append(m.Images).Append("</td><td>").Append(m.Prototypes)
                .Append("</td><td>").Append(Num(m.Seconds, "0.##")).Append("</td><td>").Append(Num(m.ImagesPerSecond, "0")).Append("</td><td class=\"l\">")
                .Append(Esc(m.Box + m.Baseline)).Append("</td></tr>\n");
        html.Append("</table>\n");
        if (report.Metrics.FirstOrDefault(m => m.Metric == "PointingGame") is { PushedPrototypes: > 0 } pointing)
            html.Append("<p>Pushed prototypes whose source box centre lies on a part: ").Append(Num(pointing.PrototypesOnPart))
                .Append(" of ").Append(pointing.PushedPrototypes).Append(" (chance ").Append(Num(pointing.PrototypesOnPartChance)).Append("); they carry ")
                .Append(Num(pointing.PrototypesOnPartWeightShare)).Append(" of those prototypes' positive own-class weight.</p>\n");

        var curves = report.Metrics.Where(m => m.Metric is "Deletion" or "Insertion").ToArray();
        if (curves.Length > 0)
        {
            string path = Path.Combine(directory, CurvesName);
            using (var plot = Plot(curves))
                AtomicFile.Write(path, s => plot.SaveAsPng(s), cancel, durable: false);
            files.Add(path);
            html.Append("<h2>Deletion and insertion</h2>\n<p>Probability of the predicted class against the share of pixels changed. ")
                .Append("Deletion sets pixels, most salient first, to the normalised zero (the data set's mean colour); insertion puts them back onto a blurred copy.</p>\n")
                .Append("<img id=\"curves\" src=\"").Append(CurvesName).Append("\" alt=\"deletion and insertion curves\" width=\"480\" height=\"320\">\n<p class=\"key\">");
            foreach (var s in Series.Where(s => curves.Any(c => c.Metric == s.Metric)))
                html.Append("<span style=\"background:").Append(s.Css).Append("\"></span>").Append(Esc(s.Label)).Append(' ');
            html.Append("</p>\n");
        }

        var rated = report.Prototypes.Where(p => p.HitRate is not null).ToArray();
        if (rated.Length > 0)
        {
            html.Append("<h2>Most and least consistent prototypes</h2>\n<p>Push patch: the prototype's source box by -BoxMethod ").Append(boxMethod)
                .Append(", ").Append(Esc(ImageRegion.Describe(boxMethod))).Append(", cut from its source image and shown at 64×64.</p>\n");
            var most = rated.OrderByDescending(p => p.HitRate).ThenBy(p => p.Model).ThenBy(p => p.Index).Take(5).ToArray();
            var least = rated.OrderBy(p => p.HitRate).ThenBy(p => p.Model).ThenBy(p => p.Index).Take(5).ToArray();
            foreach (var (title, rows) in new[] { ("Most consistent", most), ("Least consistent", least) })
            {
                html.Append("<h3>").Append(title).Append("</h3>\n<table><tr><th>Model</th><th>Prototype</th><th>Class</th><th>Preferred part</th><th>Hit rate</th><th>Stability %</th><th>Push patch</th></tr>\n");
                foreach (var p in rows)
                {
                    cancel.ThrowIfCancellationRequested();
                    string patch = Patch(directory, classifier, p, boxMethod, files);
                    html.Append("<tr><td class=\"l\">").Append(Esc(p.Model)).Append("</td><td>").Append(p.Index).Append("</td><td class=\"l\">").Append(Esc(p.Class))
                        .Append("</td><td class=\"l\">").Append(Esc(p.PreferredPart)).Append("</td><td>").Append(Num(p.HitRate, "0.###")).Append("</td><td>")
                        .Append(Num(p.Stability, "0.#")).Append("</td><td>")
                        .Append(patch.Length > 0 ? $"<img class=\"patch\" src=\"{Esc(patch)}\" alt=\"patch of prototype {p.Index}\" width=\"64\" height=\"64\">" : "not pushed")
                        .Append("</td></tr>\n");
                }
                html.Append("</table>\n");
            }
        }
        html.Append("</body></html>\n");
        string page = Path.Combine(directory, PageName);
        AtomicFile.Write(page, s => { var bytes = Encoding.UTF8.GetBytes(html.ToString()); s.Write(bytes); }, cancel, durable: false);
        files.Insert(0, page);
        return files;
    }

    /// <summary>The prototype's push patch (its source box by <paramref name="boxMethod"/> in its source image), as a PNG beside the page; "" when there is none.</summary>
    private static string Patch(string directory, IClassifier classifier, PrototypeInterpretability row, BoxMethod boxMethod, List<string> files)
    {
        if (row.MemberIndex >= classifier.Members.Count) return "";
        var member = classifier.Members[row.MemberIndex];
        if (row.Index >= member.PrototypeCount || member.Provenance[row.Index] is not { } p || !File.Exists(p.SourceImage)) return "";
        try
        {
            using var image = ImageDecoder.DecodeRgb(p.SourceImage);
            var (drawn, _) = p.DrawnBox(boxMethod);
            var box = Rectangle.Intersect(new Rectangle(drawn.X, drawn.Y, drawn.Width, drawn.Height), new Rectangle(0, 0, image.Width, image.Height));
            if (box.Width <= 0 || box.Height <= 0) return "";
            image.Mutate(x => x.Crop(box).Resize(64, 64, KnownResamplers.NearestNeighbor));
            string name = string.Create(CultureInfo.InvariantCulture, $"prototype-{Safe(row.Model)}-{row.Index}.png");
            string path = Path.Combine(directory, name);
            AtomicFile.Write(path, s => image.SaveAsPng(s), default, durable: false);
            files.Add(path);
            return name;
        }
        catch (ProtoPNetException)
        {
            return "";
        }
    }

    private static string Safe(string name) => new(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_').ToArray());

    /// <summary>A 480×320 plot: x = share of pixels changed (0–1), y = probability (0–1), grid every 0.25.</summary>
    internal static Image<Rgb24> Plot(IReadOnlyList<InterpretabilityMetric> curves)
    {
        const int width = 480, height = 320, left = 30, right = 10, top = 10, bottom = 30;
        var image = new Image<Rgb24>(width, height, new Rgb24(255, 255, 255));
        int plotW = width - left - right, plotH = height - top - bottom;
        (int X, int Y) At(double x, double y) => (left + (int)Math.Round(x * plotW), top + (int)Math.Round((1 - Math.Clamp(y, 0, 1)) * plotH));
        var grid = new Rgb24(225, 225, 225);
        for (int i = 0; i <= 4; i++)
        {
            var (gx, _) = At(i / 4.0, 0);
            var (_, gy) = At(0, i / 4.0);
            Line(image, gx, top, gx, top + plotH, grid, 1);
            Line(image, left, gy, left + plotW, gy, grid, 1);
        }
        var axis = new Rgb24(60, 60, 60);
        Line(image, left, top, left, top + plotH, axis, 1);
        Line(image, left, top + plotH, left + plotW, top + plotH, axis, 1);
        foreach (var series in Series.OrderBy(s => !s.Random))
        {
            var metric = curves.FirstOrDefault(c => c.Metric == series.Metric);
            if (metric is null) continue;
            var values = (series.Random ? metric.ChanceCurve : metric.Curve).Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            for (int i = 1; i < values.Length; i++)
            {
                var a = At((i - 1.0) / (values.Length - 1), values[i - 1]);
                var b = At((double)i / (values.Length - 1), values[i]);
                Line(image, a.X, a.Y, b.X, b.Y, series.Colour, series.Random ? 1 : 2);
            }
        }
        return image;
    }

    private static void Line(Image<Rgb24> image, int x0, int y0, int x1, int y1, Rgb24 colour, int thickness)
    {
        int steps = Math.Max(Math.Abs(x1 - x0), Math.Abs(y1 - y0)) + 1;
        for (int s = 0; s <= steps; s++)
        {
            double t = (double)s / steps;
            int x = (int)Math.Round(x0 + t * (x1 - x0)), y = (int)Math.Round(y0 + t * (y1 - y0));
            for (int dy = 0; dy < thickness; dy++)
                for (int dx = 0; dx < thickness; dx++)
                {
                    int px = x + dx, py = y + dy;
                    if (px >= 0 && py >= 0 && px < image.Width && py < image.Height) image[px, py] = colour;
                }
        }
    }
}
