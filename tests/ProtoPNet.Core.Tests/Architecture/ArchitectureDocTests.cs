using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using ProtoPNet.Model;
using Xunit;
using Xunit.Abstractions;

namespace ProtoPNet.Tests.Architecture;

/// <summary>
/// docs/architecture.md is the map of the code: these tests keep it true. The folders of Core use only the folders its
/// dependency table allows; every type, folder and file its tables name exists; every cmdlet the module exports has a
/// row in its cmdlet table.
/// </summary>
public sealed partial class ArchitectureDocTests
{
    private readonly ITestOutputHelper output;

    public ArchitectureDocTests(ITestOutputHelper output) => this.output = output;

    private static string RepositoryRoot()
    {
        var root = AppContext.BaseDirectory;
        while (root is not null && !File.Exists(Path.Combine(root, "ProtoPNet.PS.sln"))) root = Path.GetDirectoryName(root);
        Assert.NotNull(root);
        return root!;
    }

    private static string[] Document() => File.ReadAllLines(Path.Combine(RepositoryRoot(), "docs", "architecture.md"));

    /// <summary>The rows of the first table after the heading <paramref name="heading"/>, as cells.</summary>
    private static List<string[]> Table(string heading)
    {
        var lines = Document();
        int at = Array.FindIndex(lines, l => l.Trim() == "## " + heading);
        Assert.True(at >= 0, $"docs/architecture.md has no section '{heading}'");
        var rows = new List<string[]>();
        bool inTable = false;
        for (int i = at + 1; i < lines.Length && !lines[i].StartsWith("## ", StringComparison.Ordinal); i++)
        {
            var line = lines[i].Trim();
            if (!line.StartsWith('|')) { if (inTable) break; continue; }
            inTable = true;
            var cells = line.Trim('|').Split('|').Select(c => c.Trim()).ToArray();
            if (cells.All(c => c.Length == 0 || c.All(ch => ch is '-' or ':' or ' '))) continue;   // the separator row
            rows.Add(cells);
        }
        return rows.Skip(1).ToList();   // without the header row
    }

    [GeneratedRegex("`([^`]+)`")]
    private static partial Regex Code();

    private static IEnumerable<string> CodeSpans(string cell) => Code().Matches(cell).Select(m => m.Groups[1].Value);

    [Fact]
    public void CoreFoldersUseOnlyTheFoldersTheDocumentAllows()
    {
        var actual = FolderDependencies.Of(typeof(ProtoPNetModel).Assembly.Location);
        foreach (var (folder, uses) in actual.OrderBy(kv => kv.Key))
            output.WriteLine($"{folder}: {string.Join(", ", uses.OrderBy(u => u.Key).Select(u => $"{u.Key} ({u.Value})"))}");
        var allowed = Table("Dependencies").ToDictionary(
            r => r[0].Trim('`', '/'),
            r => CodeSpans(r[1]).Select(s => s.Trim('/')).ToHashSet(StringComparer.Ordinal));
        var violations = new List<string>();
        foreach (var (folder, uses) in actual.OrderBy(kv => kv.Key))
        {
            if (folder == FolderDependencies.Root) continue;
            if (!allowed.TryGetValue(folder, out var may)) { violations.Add($"folder {folder} has no row in the table"); continue; }
            foreach (var (used, example) in uses)
                if (used != FolderDependencies.Root && !may.Contains(used)) violations.Add($"{folder} uses {used} ({example})");
        }
        Assert.True(violations.Count == 0, "Dependencies the architecture does not allow:\n" + string.Join("\n", violations));
    }

    [Fact]
    public void EveryFolderAndTypeTheTablesNameExists()
    {
        var root = RepositoryRoot();
        var typeNames = TypeNames(typeof(ProtoPNetModel).Assembly.Location)
            .Concat(TypeNames(typeof(ProtoPNet.Benchmarks.PlantedPartSet).Assembly.Location))
            .Concat(TypeNames(Path.Combine(root, "bin", "ProtoPNet.PowerShell.dll")))
            .ToHashSet(StringComparer.Ordinal);
        var missing = new List<string>();
        var lines = Document().Where(l => l.TrimStart().StartsWith('|'));
        foreach (var span in lines.SelectMany(CodeSpans).Distinct())
        {
            if (span.Contains(' ') || span.StartsWith('-') || span.StartsWith('.')) continue;   // prose, parameters, extensions
            if (span.EndsWith('/'))
            {
                bool folder = Directory.Exists(Path.Combine(root, span)) || Directory.Exists(Path.Combine(root, "src", "ProtoPNet.Core", span));
                if (!folder) missing.Add(span);
                continue;
            }
            if (span.Contains('/') || span.EndsWith(".psd1", StringComparison.Ordinal) || span.EndsWith(".ps1", StringComparison.Ordinal))
            {
                if (!File.Exists(Path.Combine(root, span)) && !Directory.Exists(Path.Combine(root, span))) missing.Add(span);
                continue;
            }
            if (!char.IsUpper(span[0]) || span.Contains('-')) continue;   // cmdlet names are checked below
            // A type, a namespace-qualified type (Data.BatchReader) or a member of one (Data.DatasetSplit.Stratified).
            var parts = span.Split('.');
            bool found = Enumerable.Range(1, parts.Length).Any(n => typeNames.Contains(parts[n - 1]) && n >= parts.Length - 1);
            if (!found) missing.Add(span);
        }
        Assert.True(missing.Count == 0, "docs/architecture.md names what does not exist:\n" + string.Join("\n", missing));
    }

    [Fact]
    public void EveryExportedCmdletHasARowInTheCmdletTable()
    {
        var manifest = File.ReadAllText(Path.Combine(RepositoryRoot(), "ProtoPNet.psd1"));
        var list = Regex.Match(manifest, @"CmdletsToExport\s*=\s*@\(([^)]*)\)", RegexOptions.Singleline);
        Assert.True(list.Success, "ProtoPNet.psd1 has no CmdletsToExport list");
        var exported = Regex.Matches(list.Groups[1].Value, @"'([^']+)'").Select(m => m.Groups[1].Value).ToArray();
        Assert.NotEmpty(exported);
        var documented = Table("Where each cmdlet lands in Core").SelectMany(r => CodeSpans(r[0])).ToHashSet(StringComparer.Ordinal);
        var undocumented = exported.Where(c => !documented.Contains(c)).ToArray();
        Assert.True(undocumented.Length == 0, "Cmdlets missing from the table: " + string.Join(", ", undocumented));
        var unknown = documented.Where(c => !exported.Contains(c)).ToArray();
        Assert.True(unknown.Length == 0, "The table names cmdlets the module does not export: " + string.Join(", ", unknown));
    }

    private static IEnumerable<string> TypeNames(string assemblyPath)
    {
        Assert.True(File.Exists(assemblyPath), $"{assemblyPath} is missing: build the module first (dotnet pwsh ./build.ps1).");
        using var pe = new PEReader(File.OpenRead(assemblyPath));
        var md = pe.GetMetadataReader();
        return md.TypeDefinitions.Select(h => md.GetString(md.GetTypeDefinition(h).Name).Split('`')[0]).ToArray();
    }
}
