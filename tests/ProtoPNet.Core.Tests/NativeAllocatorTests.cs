using ProtoPNet.Runtime;
using ProtoPNet.Model;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using ProtoPNet.Optimization;

namespace ProtoPNet.Tests;

/// <summary>
/// The allocator settings of <see cref="NativeAllocator"/>: without them every training batch's tensors were unmapped when
/// freed and faulted in again by the next batch (thousands of page faults per step, half the demo's speed).
/// </summary>
public class NativeAllocatorTests(ITestOutputHelper output)
{
    // The module's own reason for leaving the allocator alone: a user setting takes precedence over the module's.
    private static bool UserConfiguredAllocator
    {
        get
        {
            using var warmUp = torch.zeros(1);   // Core's module initializer has run
            return NativeAllocator.SkippedBecause?.EndsWith(" is set", StringComparison.Ordinal) == true;
        }
    }

    [Fact]
    public void Settings_are_in_force_on_linux_with_glibc()
    {
        if (!OperatingSystem.IsLinux() || UserConfiguredAllocator) return;   // the settings are glibc's; the user's own take precedence
        Assert.True(NativeAllocator.Configured, NativeAllocator.SkippedBecause);
    }

    [Fact]
    public void Training_steps_reuse_freed_memory_instead_of_faulting_it_in_again()
    {
        if (!OperatingSystem.IsLinux() || UserConfiguredAllocator) return;
        using var model = ProtoPNetModel.Create(new ProtoPNetArchitecture { Backbone = "smallcnn", ImageSize = 28, PrototypeDepth = 64 },
            Enumerable.Range(0, 10).Select(c => $"c{c}").ToArray(), 10, seed: 1);
        var network = model.Network;
        network.train();
        // The trainer's optimizer: TorchSharp's Adam makes Scalars nothing holds during the native call, which can crash
        // the test host (docs/performance.md, "Scalars"); so would `arange(64) % 10`.
        using var optimizer = new FusedAdam([new Adam.ParamGroup(network.parameters(), new Adam.Options { LearningRate = 1e-3 })], 1e-3);
        using var images = torch.rand(64, 3, 28, 28, generator: new Generator(7));
        using var labels = torch.tensor(Enumerable.Range(0, 64).Select(i => (long)(i % 10)).ToArray());

        void Step()
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(network.forward(images).Logits, labels);
            loss.backward();
            optimizer.step();
        }

        for (int i = 0; i < 5; i++) Step();                     // the first steps map what a step needs
        const int steps = 20;
        long before = MinorPageFaults();
        for (int i = 0; i < steps; i++) Step();
        double perStep = (MinorPageFaults() - before) / (double)steps;
        output.WriteLine($"minor page faults per training step: {perStep:n0}");
        // Measured on the development machine: 124-149 per step with the settings, 8,555 with glibc's defaults.
        Assert.True(perStep < 1000, $"{perStep:n0} minor page faults per training step: freed tensor memory goes back to the kernel");
    }

    /// <summary>Field 10 of /proc/self/stat: minor faults of the whole process so far.</summary>
    private static long MinorPageFaults()
    {
        string stat = File.ReadAllText("/proc/self/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');   // after "pid (comm) "; the state is field 3
        return long.Parse(fields[7]);
    }
}
