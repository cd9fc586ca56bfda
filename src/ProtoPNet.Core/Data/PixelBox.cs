namespace ProtoPNet.Data;

/// <summary>A rectangle in pixels: X, Y of the top-left corner, Width, Height (exclusive right/bottom edges at X+Width, Y+Height).</summary>
public readonly record struct PixelBox(int X, int Y, int Width, int Height)
{
    public bool Contains(int x, int y) => x >= X && x < X + Width && y >= Y && y < Y + Height;

    /// <summary>This box (in model-input pixels) in the original image's pixels.</summary>
    public PixelBox ToOriginal(ImageGeometry geometry)
    {
        var (x, y, w, h) = geometry.ToOriginal(X, Y, Width, Height);
        return new PixelBox(x, y, w, h);
    }

    /// <summary>A box in original-image pixels mapped into model-input pixels (the inverse of <see cref="ToOriginal"/>, rounded outward).</summary>
    public PixelBox ToInput(ImageGeometry g)
    {
        double sx = (double)g.InputSize / g.CropWidth, sy = (double)g.InputSize / g.CropHeight;
        int x0 = Math.Clamp((int)Math.Floor((X - g.CropX) * sx), 0, g.InputSize);
        int y0 = Math.Clamp((int)Math.Floor((Y - g.CropY) * sy), 0, g.InputSize);
        int x1 = Math.Clamp((int)Math.Ceiling((X + Width - g.CropX) * sx), 0, g.InputSize);
        int y1 = Math.Clamp((int)Math.Ceiling((Y + Height - g.CropY) * sy), 0, g.InputSize);
        return new PixelBox(x0, y0, Math.Max(0, x1 - x0), Math.Max(0, y1 - y0));
    }
}
