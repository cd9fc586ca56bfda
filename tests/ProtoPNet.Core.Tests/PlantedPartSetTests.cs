using ProtoPNet.Benchmarks;
using Xunit;

namespace ProtoPNet.Tests;

public class PlantedPartSetTests
{
    /// <summary>Seeds must not depend on the process: these constants were computed outside .NET (System.HashCode would differ per process).</summary>
    [Fact]
    public void SeedMixIsTheSameInEveryProcess()
    {
        Assert.Equal(-857492951, SeedMix.Combine(1, 2, 3));
        Assert.Equal(-266303290, SeedMix.Combine(42, 1, 0x5EED));
        Assert.Equal(ProtoPNet.Training.ProtoPNetTrainer.ShuffleOrder(42, 1, 10), ProtoPNet.Training.ProtoPNetTrainer.ShuffleOrder(42, 1, 10));
    }

    [Fact]
    public void TheSetIsDeterministicForASeedAndItsPartsLieInsideTheImages()
    {
        string a = Path.Combine(Path.GetTempPath(), "ptpn-planted-" + Guid.NewGuid().ToString("N"));
        string b = Path.Combine(Path.GetTempPath(), "ptpn-planted-" + Guid.NewGuid().ToString("N"));
        try
        {
            // Tight: 2 glyphs of 10 px in 32 px cannot always be placed where the first one lands; layouts start over.
            var options = new PlantedPartOptions { ImageSize = 32, GlyphSize = 10, ClassCount = 2, TrainPerClass = 40, TestPerClass = 5, Distractors = 1, Seed = 1 };
            var info = PlantedPartSet.Write(a, options);
            PlantedPartSet.Write(b, options);
            Assert.Equal(90, info.TrainCount + info.TestCount);
            Assert.Equal(File.ReadAllText(info.PartsPath), File.ReadAllText(Path.Combine(b, PlantedPartSet.PartsFileName)));
            Assert.Equal(File.ReadAllBytes(Path.Combine(a, "train/red-disc/00007.png")), File.ReadAllBytes(Path.Combine(b, "train/red-disc/00007.png")));
            var rows = File.ReadAllLines(info.PartsPath).Skip(1).Select(l => l.Split(',')).ToArray();
            Assert.Equal(90, rows.Length);
            Assert.All(rows, r =>
            {
                int x = int.Parse(r[2]), y = int.Parse(r[3]), w = int.Parse(r[4]), h = int.Parse(r[5]);
                Assert.True(x >= 0 && y >= 0 && x + w <= 32 && y + h <= 32 && w == 10 && h == 10, string.Join(",", r));
            });
            Assert.NotEqual(File.ReadAllText(info.PartsPath), File.ReadAllText(PlantedPartSet.Write(Path.Combine(b, "other"), options with { Seed = 2 }).PartsPath));
        }
        finally
        {
            if (Directory.Exists(a)) Directory.Delete(a, true);
            if (Directory.Exists(b)) Directory.Delete(b, true);
        }
    }
}
