using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using ProtoPNet.Model.Backbones;

namespace ProtoPNet.PowerShell;

/// <summary>Tab completion of backbone names for -Backbone.</summary>
public sealed class BackboneCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        BackboneFactory.Names.OrderBy(n => n, StringComparer.Ordinal)
            .Where(n => n.StartsWith(wordToComplete ?? "", StringComparison.OrdinalIgnoreCase))
            .Select(n => new CompletionResult(n, n, CompletionResultType.ParameterValue, n));
}
