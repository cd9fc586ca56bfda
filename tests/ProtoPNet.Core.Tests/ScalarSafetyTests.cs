using ProtoPNet.Runtime;
using ProtoPNet.Model;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using ProtoPNet.Optimization;

namespace ProtoPNet.Tests;

/// <summary>
/// Guards the rule of docs/performance.md, "Scalars": Core never makes a TorchSharp Scalar it does not hold through
/// the native call that reads it. Only <see cref="ScalarMath"/> makes Scalars (each in a <c>using</c>).
/// </summary>
public class ScalarSafetyTests
{
    private readonly ITestOutputHelper output;

    public ScalarSafetyTests(ITestOutputHelper output) => this.output = output;

    private static ScalarCallScanner Scanner()
    {
        var scanner = new ScalarCallScanner();
        scanner.AddLibrary(typeof(torch).Assembly.Location);
        scanner.AddLibrary(typeof(torchvision).Assembly.Location);
        return scanner;
    }

    [Fact]
    public void CoreMakesNoScalarItDoesNotHold()
    {
        var allowed = new HashSet<string> { typeof(ScalarMath).FullName! };
        var sites = Scanner().FindCallSites(typeof(ScalarMath).Assembly.Location, allowed);
        foreach (var site in sites) output.WriteLine(site);
        Assert.True(sites.Count == 0,
            $"{sites.Count} call(s) make a TorchSharp Scalar that nothing holds during the native call " +
            "(use ScalarMath; docs/performance.md, \"Scalars\"):\n" + string.Join("\n", sites));
    }

    [Fact]
    public void TheCmdletAssemblyMakesNoScalarItDoesNotHold()
    {
        // The module as build.ps1 lays it out (the test task builds it first): the cmdlets call Core, and TorchSharp only
        // for the thread count, but a Scalar made there would crash the same host.
        var root = AppContext.BaseDirectory;
        while (root is not null && !File.Exists(Path.Combine(root, "ProtoPNet.PS.sln"))) root = Path.GetDirectoryName(root);
        Assert.NotNull(root);
        var cmdlets = Path.Combine(root!, "bin", "ProtoPNet.PowerShell.dll");
        Assert.True(File.Exists(cmdlets), $"{cmdlets} is missing: build the module first (dotnet pwsh ./build.ps1).");
        var sites = Scanner().FindCallSites(cmdlets, new HashSet<string>());
        Assert.True(sites.Count == 0, "The cmdlets make Scalars nothing holds:\n" + string.Join("\n", sites));
    }

    [Fact]
    public void ScannerKnowsTheHazardsOfThisTorchSharp()
    {
        // If the scan of TorchSharp went blind (a changed name format, an IL reader bug), the guard above would pass
        // vacuously. These are hazards read from TorchSharp 0.107's IL: implicit conversions, the number operators,
        // and the overloads whose default alpha = 1 or exponent 2 is converted inside TorchSharp.
        var hazards = Scanner().Hazards;
        string[] expected =
        {
            "TorchSharp.Scalar::op_Implicit(Double)",
            "TorchSharp.Scalar::op_Implicit(Int32)",
            "TorchSharp.torch+Tensor::op_Multiply(TorchSharp.torch+Tensor,Double)",
            "TorchSharp.torch+Tensor::op_Subtraction(Int32,TorchSharp.torch+Tensor)",
            "TorchSharp.torch+Tensor::op_Addition(TorchSharp.torch+Tensor,TorchSharp.torch+Tensor)",
            "TorchSharp.torch+Tensor::add(TorchSharp.Scalar)",
            "TorchSharp.torch+Tensor::add_(TorchSharp.torch+Tensor)",
            "TorchSharp.torch+Tensor::square()",
            "TorchSharp.TensorExtensionMethods::ToSingle(TorchSharp.torch+Tensor)",
        };
        foreach (var key in expected) Assert.True(hazards.ContainsKey(key), "not found as a hazard: " + key);
        // TorchSharp's Adam.step makes Scalars it does not hold; Core calls it through Optimizer.step, so the scanner must
        // know the type (Core's own FusedAdam overrides step and is the optimizer Core makes).
        Assert.True(Scanner().HazardousTypes.ContainsKey("TorchSharp.Modules.Adam"), "TorchSharp's Adam is not known as a hazardous type");

        // And what holds its Scalar's native pointer only as an argument is not a hazard: the caller holds the Scalar.
        string[] safe =
        {
            "TorchSharp.torch+Tensor::mul(TorchSharp.Scalar)",
            "TorchSharp.torch+Tensor::add(TorchSharp.torch+Tensor,TorchSharp.Scalar)",
            "TorchSharp.torch+Tensor::sub(TorchSharp.torch+Tensor)",
            "TorchSharp.torch+Tensor::op_Multiply(TorchSharp.torch+Tensor,TorchSharp.torch+Tensor)",
        };
        foreach (var key in safe) Assert.False(hazards.ContainsKey(key), "taken for a hazard: " + key);
    }
}
