using ProtoPNet.Data;
using Xunit;

namespace ProtoPNet.Tests.Data;

public class MatFileTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadsCellArraysOfStringsAndStructArrays(bool compress)
    {
        var dir = TestFiles.TempFolder();
        try
        {
            var meta = Path.Combine(dir, "meta.mat");
            MatWriter.WriteCellOfStrings(meta, "class_names", ["AM General Hummer SUV 2000", "Acura RL Sedan 2012"], compress);
            var names = Assert.IsType<MatCell>(MatFile.Read(meta)["class_names"]);
            Assert.Equal(new[] { "AM General Hummer SUV 2000", "Acura RL Sedan 2012" }, names.Elements.Select(e => ((MatChar)e).Text));

            var annos = Path.Combine(dir, "annos.mat");
            MatWriter.WriteStructArray(annos, "annotations", ["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname"],
            [
                [(ushort)39, (ushort)116, (ushort)569, (ushort)375, (byte)14, "00001.jpg"],
                [(ushort)36, (ushort)116, (ushort)868, (ushort)587, (byte)3, "00002.jpg"],
                [1.0, 2.0, 3.0, 4.0, 2.0, "x.jpg"],
            ], compress);
            var table = Assert.IsType<MatStruct>(MatFile.Read(annos)["annotations"]);
            Assert.Equal(new[] { 1, 3 }, table.Dimensions);
            Assert.Equal("fname", table.FieldNames[5]);
            Assert.Equal(569, ((MatNumeric)table.Elements[0]["bbox_x2"]).Values[0]);
            Assert.Equal(3, ((MatNumeric)table.Elements[1]["class"]).Values[0]);
            Assert.Equal("x.jpg", ((MatChar)table.Elements[2]["fname"]).Text);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void RefusesFilesThatAreNotMatFiles()
    {
        var e = Assert.Throws<ProtoPNetException>(() => MatFile.Read(new byte[200]));
        Assert.Equal("MatFileInvalid", e.ErrorId);
    }
}
