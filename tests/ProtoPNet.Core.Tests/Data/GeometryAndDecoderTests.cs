using ProtoPNet.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;

namespace ProtoPNet.Tests.Data;

public class GeometryAndDecoderTests
{
    [Fact]
    public void GeometryMapsInputBoxesBackThroughCropAndScale()
    {
        // A 100×80 crop at (30, 20) of a 400×300 image, shown to the model at 50×50: one input pixel = 2 × 1.6 pixels.
        var g = new ImageGeometry(400, 300, 30, 20, 100, 80, 50);
        Assert.Equal((30, 20, 100, 80), g.ToOriginal(0, 0, 50, 50));
        Assert.Equal((30 + 20, 20 + 16, 20, 16), g.ToOriginal(10, 10, 10, 10));
        // Rounded outward: rows 1…5 of the input → from 20 + 1.6 = 21.6 (floor 21) to 20 + 5·1.6 = 28 → 7 rows.
        Assert.Equal((32, 21, 4, 7), g.ToOriginal(1, 1, 2, 4));
    }

    [Fact]
    public void CropIsPixelExactAndGeometryRecordsIt()
    {
        var dir = TestFiles.TempFolder();
        try
        {
            var path = Path.Combine(dir, "pattern.png");
            using (var image = TestFiles.Pattern(60, 40)) image.SaveAsPng(path);
            var crop = new Rectangle(13, 7, 24, 24);
            var (rgb, geometry) = ImageDecoder.LoadRgb(path, 24, crop);
            using var source = TestFiles.Pattern(60, 40);
            for (int y = 0; y < 24; y++)
            for (int x = 0; x < 24; x++)
            {
                var p = source[13 + x, 7 + y];
                int at = (y * 24 + x) * 3;
                Assert.Equal((p.R, p.G, p.B), (rgb[at], rgb[at + 1], rgb[at + 2]));
            }
            Assert.Equal(new ImageGeometry(60, 40, 13, 7, 24, 24, 24), geometry);
            // A box reaching past the image is clipped to it.
            var (_, clipped) = ImageDecoder.LoadRgb(path, 8, new Rectangle(50, 30, 20, 20));
            Assert.Equal((50, 30, 10, 10), (clipped.CropX, clipped.CropY, clipped.CropWidth, clipped.CropHeight));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void ExifOrientationIsAppliedToPixelsAndSize()
    {
        var dir = TestFiles.TempFolder();
        try
        {
            // Stored 30×20 with a dot near the stored top-left; orientation 6 = "rotate 90° clockwise to display".
            var path = Path.Combine(dir, "rotated.jpg");
            using (var image = TestFiles.Dot(30, 20, 3, 3, 2))
            {
                image.Metadata.ExifProfile = new ExifProfile();
                image.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
                image.SaveAsJpeg(path);
            }
            var probe = ImageDecoder.Probe(path);
            Assert.Equal((20, 30, 6), (probe.Width, probe.Height, probe.Orientation));
            using var decoded = ImageDecoder.DecodeRgb(path);
            Assert.Equal((20, 30), (decoded.Width, decoded.Height));
            // Turned clockwise, the stored top-left corner is now the top-right one.
            var (cx, cy) = TestFiles.Centroid(decoded);
            Assert.InRange(cx, 20 - 1 - 3 - 1.0, 20 - 1 - 3 + 1.0);
            Assert.InRange(cy, 2.0, 4.0);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void OnePixelGreyAlphaAndSixteenBitImagesBecomeRgb()
    {
        var dir = TestFiles.TempFolder();
        try
        {
            var one = Path.Combine(dir, "one.png");
            using (var image = new Image<Rgb24>(1, 1)) { image[0, 0] = new Rgb24(10, 200, 30); image.SaveAsPng(one); }
            var (rgb, g) = ImageDecoder.LoadRgb(one, 4);
            Assert.Equal(4 * 4 * 3, rgb.Length);
            Assert.Equal((byte)200, rgb[1]);
            Assert.Equal((1, 1), (g.OriginalWidth, g.OriginalHeight));

            var wide = Path.Combine(dir, "wide16.png");
            using (var image = new Image<Rgba64>(3, 2)) { image[1, 1] = new Rgba64(65535, 0, 32896, 65535); image.SaveAsPng(wide, new SixLabors.ImageSharp.Formats.Png.PngEncoder { BitDepth = SixLabors.ImageSharp.Formats.Png.PngBitDepth.Bit16, ColorType = SixLabors.ImageSharp.Formats.Png.PngColorType.RgbWithAlpha }); }
            using (var decoded = ImageDecoder.DecodeRgb(wide)) Assert.Equal(new Rgb24(255, 0, 128), decoded[1, 1]);

            var grey = Path.Combine(dir, "grey.png");
            using (var image = new Image<L8>(2, 2)) { image[0, 1] = new L8(77); image.SaveAsPng(grey); }
            using (var decoded = ImageDecoder.DecodeRgb(grey)) Assert.Equal(new Rgb24(77, 77, 77), decoded[0, 1]);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void AnimatedGifsDecodeTheirFirstFrameOnly()
    {
        var dir = TestFiles.TempFolder();
        try
        {
            var path = Path.Combine(dir, "animated.gif");
            using (var image = new Image<Rgb24>(8, 8, new Rgb24(255, 0, 0)))
            {
                for (int f = 0; f < 3; f++) image.Frames.AddFrame(new Image<Rgb24>(8, 8, new Rgb24(0, 0, 255)).Frames.RootFrame);
                image.SaveAsGif(path);
            }
            using (var all = Image.Load<Rgb24>(path)) Assert.Equal(4, all.Frames.Count); // the file really has 4 frames
            using var decoded = ImageDecoder.DecodeRgb(path);
            Assert.Equal(1, decoded.Frames.Count);
            Assert.True(decoded[3, 3].R > 200 && decoded[3, 3].B < 50);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void PixelCapIsCheckedFromTheHeaderBeforeDecoding()
    {
        var dir = TestFiles.TempFolder();
        try
        {
            // A PNG whose header declares 20000×20000 (400 Mpx) and that holds no pixel data at all: only a header read
            // can give ImageTooLarge; a decoder that tried to decode would fail otherwise (or allocate 1.2 GB).
            var path = Path.Combine(dir, "huge.png");
            File.WriteAllBytes(path, PngHeaderOnly(20000, 20000));
            var e = Assert.Throws<ProtoPNetException>(() => ImageDecoder.DecodeRgb(path));
            Assert.Equal("ImageTooLarge", e.ErrorId);
            Assert.Equal(path, e.Target);
            Assert.Equal("ImageTooLarge", Assert.Throws<ProtoPNetException>(() => ImageDecoder.Probe(path)).ErrorId);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static byte[] PngHeaderOnly(int width, int height)
    {
        var ihdr = new byte[17];
        "IHDR"u8.CopyTo(ihdr);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(8), height);
        ihdr[12] = 8; ihdr[13] = 2; // 8-bit RGB
        var file = new List<byte>([0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, 0, 0, 0, 13]);
        file.AddRange(ihdr);
        var crc = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(ihdr));
        file.AddRange(crc);
        file.AddRange(new byte[] { 0, 0, 0, 0, (byte)'I', (byte)'E', (byte)'N', (byte)'D', 0xAE, 0x42, 0x60, 0x82 });
        return file.ToArray();
    }

    private static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }
}
