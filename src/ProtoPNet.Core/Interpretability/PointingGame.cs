using ProtoPNet.Data;

namespace ProtoPNet.Interpretability;

/// <summary>
/// The pointing game's hit test and its chance level. A box hits when its centre lies within a part box widened by
/// <see cref="Tolerance"/> pixels on every side, or when it holds a part keypoint's pixel. Chance is the probability
/// that a box of the same size, placed uniformly at random among the positions where it fits in the image, hits:
/// computed exactly by counting those positions (for each part the hitting positions form a rectangle; a row-by-row
/// union of intervals counts them).
/// </summary>
public static class PointingGame
{
    public const double Tolerance = 3;

    public static bool Hits(PixelBox box, IReadOnlyList<InputPart> parts, double tolerance = Tolerance)
    {
        double cx = box.X + box.Width / 2.0, cy = box.Y + box.Height / 2.0;
        foreach (var p in parts)
        {
            if (p.IsPoint)
            {
                if (box.Contains(p.Box.X, p.Box.Y)) return true;
            }
            else if (cx >= p.Box.X - tolerance && cx <= p.Box.X + p.Box.Width + tolerance &&
                     cy >= p.Box.Y - tolerance && cy <= p.Box.Y + p.Box.Height + tolerance)
                return true;
        }
        return false;
    }

    /// <summary>
    /// Share of the positions of a <paramref name="width"/>×<paramref name="height"/> box inside a
    /// <paramref name="imageWidth"/>×<paramref name="imageHeight"/> image at which <see cref="Hits"/> is true.
    /// </summary>
    public static double Chance(int width, int height, IReadOnlyList<InputPart> parts, int imageWidth, int imageHeight, double tolerance = Tolerance)
    {
        width = Math.Clamp(width, 1, imageWidth);
        height = Math.Clamp(height, 1, imageHeight);
        int maxX = imageWidth - width, maxY = imageHeight - height;
        if (parts.Count == 0) return 0;
        // Each part: the top-left positions (X in [x0, x1], Y in [y0, y1]) at which the box hits it.
        var rects = new List<(int X0, int X1, int Y0, int Y1)>(parts.Count);
        foreach (var p in parts)
        {
            int x0, x1, y0, y1;
            if (p.IsPoint)
            {
                x0 = p.Box.X - width + 1; x1 = p.Box.X;
                y0 = p.Box.Y - height + 1; y1 = p.Box.Y;
            }
            else
            {
                // X + width/2 in [bx − t, bx + bw + t]
                x0 = (int)Math.Ceiling(p.Box.X - tolerance - width / 2.0); x1 = (int)Math.Floor(p.Box.X + p.Box.Width + tolerance - width / 2.0);
                y0 = (int)Math.Ceiling(p.Box.Y - tolerance - height / 2.0); y1 = (int)Math.Floor(p.Box.Y + p.Box.Height + tolerance - height / 2.0);
            }
            x0 = Math.Max(x0, 0); x1 = Math.Min(x1, maxX); y0 = Math.Max(y0, 0); y1 = Math.Min(y1, maxY);
            if (x0 <= x1 && y0 <= y1) rects.Add((x0, x1, y0, y1));
        }
        if (rects.Count == 0) return 0;
        long hits = 0;
        var intervals = new List<(int A, int B)>(rects.Count);
        for (int y = 0; y <= maxY; y++)
        {
            intervals.Clear();
            foreach (var r in rects) if (y >= r.Y0 && y <= r.Y1) intervals.Add((r.X0, r.X1));
            if (intervals.Count == 0) continue;
            intervals.Sort();
            int a = intervals[0].A, b = intervals[0].B;
            for (int i = 1; i < intervals.Count; i++)
            {
                if (intervals[i].A <= b + 1) b = Math.Max(b, intervals[i].B);
                else { hits += b - a + 1; (a, b) = intervals[i]; }
            }
            hits += b - a + 1;
        }
        return (double)hits / ((long)(maxX + 1) * (maxY + 1));
    }
}

/// <summary>Area under a curve by the trapezoid rule.</summary>
public static class CurveArea
{
    /// <summary>AUC of <paramref name="y"/> sampled at evenly spaced x from 0 to 1 (y[0] at 0, y[^1] at 1).</summary>
    public static double Trapezoid(IReadOnlyList<double> y)
    {
        if (y.Count < 2) return y.Count == 1 ? y[0] : double.NaN;
        double sum = 0;
        for (int i = 1; i < y.Count; i++) sum += (y[i - 1] + y[i]) / 2;
        return sum / (y.Count - 1);
    }

    /// <summary>AUC of the points (x[i], y[i]), x ascending.</summary>
    public static double Trapezoid(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count != y.Count) throw new ArgumentException("x and y must have the same length");
        double sum = 0;
        for (int i = 1; i < x.Count; i++) sum += (x[i] - x[i - 1]) * (y[i - 1] + y[i]) / 2;
        return sum;
    }
}
