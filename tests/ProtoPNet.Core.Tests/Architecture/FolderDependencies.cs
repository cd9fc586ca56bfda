using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace ProtoPNet.Tests.Architecture;

/// <summary>
/// Which folders of ProtoPNet.Core use which others, read from the compiled assembly (no loading): a folder is the first
/// namespace segment under <c>ProtoPNet</c> (<c>ProtoPNet.Model.Backbones</c> is <c>Model</c>; <c>ProtoPNet</c> itself is
/// the root, whose shared types any folder may use). A type uses another when its base type, interfaces, fields, method
/// signatures or method bodies (calls, field accesses, type tokens) name it.
/// </summary>
internal static class FolderDependencies
{
    public const string Root = "(root)";

    /// <summary>Folder → (used folder → one example "Type → UsedType").</summary>
    public static Dictionary<string, Dictionary<string, string>> Of(string assemblyPath)
    {
        using var pe = new PEReader(File.OpenRead(assemblyPath));
        var md = pe.GetMetadataReader();
        var result = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        foreach (var th in md.TypeDefinitions)
        {
            var td = md.GetTypeDefinition(th);
            string from = FolderOf(md, th);
            if (from.Length == 0) continue;   // not a ProtoPNet type (<Module>, compiler-generated at top level)
            var used = new HashSet<TypeDefinitionHandle>();
            var collector = new Collector(used);
            if (!td.BaseType.IsNil) AddType(md, td.BaseType, collector);
            foreach (var ih in td.GetInterfaceImplementations()) AddType(md, md.GetInterfaceImplementation(ih).Interface, collector);
            foreach (var fh in td.GetFields()) md.GetFieldDefinition(fh).DecodeSignature(collector, null);
            foreach (var mh in td.GetMethods())
            {
                var m = md.GetMethodDefinition(mh);
                m.DecodeSignature(collector, null);
                if (m.RelativeVirtualAddress == 0) continue;
                var body = pe.GetMethodBody(m.RelativeVirtualAddress);
                if (!body.LocalSignature.IsNil)
                    md.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(collector, null);
                foreach (var token in Tokens(body.GetILBytes()!)) AddToken(md, token, collector);
            }
            if (!result.TryGetValue(from, out var uses)) result[from] = uses = new(StringComparer.Ordinal);
            foreach (var u in used)
            {
                string to = FolderOf(md, u);
                if (to.Length == 0 || to == from) continue;
                string example = $"{Name(md, th)} → {Name(md, u)}";
                if (!uses.TryAdd(to, example) && uses[to].Split("; ").Length < 8 && !uses[to].Contains(example)) uses[to] += "; " + example;
            }
        }
        return result;
    }

    private static string FolderOf(MetadataReader md, TypeDefinitionHandle h)
    {
        var td = md.GetTypeDefinition(h);
        while (td.IsNested) td = md.GetTypeDefinition(td.GetDeclaringType());
        string ns = md.GetString(td.Namespace);
        if (ns == "ProtoPNet") return Root;
        if (!ns.StartsWith("ProtoPNet.", StringComparison.Ordinal)) return "";
        return ns["ProtoPNet.".Length..].Split('.')[0];
    }

    private static string Name(MetadataReader md, TypeDefinitionHandle h)
    {
        var td = md.GetTypeDefinition(h);
        return td.IsNested ? Name(md, td.GetDeclaringType()) + "+" + md.GetString(td.Name) : md.GetString(td.Name);
    }

    private static void AddType(MetadataReader md, EntityHandle h, Collector c)
    {
        switch (h.Kind)
        {
            case HandleKind.TypeDefinition: c.Used.Add((TypeDefinitionHandle)h); break;
            case HandleKind.TypeSpecification: md.GetTypeSpecification((TypeSpecificationHandle)h).DecodeSignature(c, null); break;
        }
    }

    private static void AddToken(MetadataReader md, EntityHandle h, Collector c)
    {
        switch (h.Kind)
        {
            case HandleKind.TypeDefinition or HandleKind.TypeSpecification:
                AddType(md, h, c);
                break;
            case HandleKind.MethodDefinition:
                c.Used.Add(md.GetMethodDefinition((MethodDefinitionHandle)h).GetDeclaringType());
                break;
            case HandleKind.FieldDefinition:
                c.Used.Add(md.GetFieldDefinition((FieldDefinitionHandle)h).GetDeclaringType());
                break;
            case HandleKind.MemberReference:
                var member = md.GetMemberReference((MemberReferenceHandle)h);
                AddType(md, member.Parent, c);
                if (member.GetKind() == MemberReferenceKind.Method) member.DecodeMethodSignature(c, null);
                else member.DecodeFieldSignature(c, null);
                break;
            case HandleKind.MethodSpecification:
                var spec = md.GetMethodSpecification((MethodSpecificationHandle)h);
                AddToken(md, spec.Method, c);
                spec.DecodeSignature(c, null);
                break;
        }
    }

    /// <summary>Operands of instructions that name a method, field, type or token.</summary>
    private static IEnumerable<EntityHandle> Tokens(byte[] il) =>
        IlInstructions.Read(il).Where(x => x.OperandType is OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok)
            .Select(x => MetadataTokens.EntityHandle(x.Operand));

    /// <summary>Records every type definition of this assembly a signature names.</summary>
    private sealed class Collector(HashSet<TypeDefinitionHandle> used) : ISignatureTypeProvider<object?, object?>
    {
        public HashSet<TypeDefinitionHandle> Used { get; } = used;
        public object? GetPrimitiveType(PrimitiveTypeCode typeCode) => null;
        public object? GetTypeFromDefinition(MetadataReader r, TypeDefinitionHandle h, byte rawTypeKind) { Used.Add(h); return null; }
        public object? GetTypeFromReference(MetadataReader r, TypeReferenceHandle h, byte rawTypeKind) => null;
        public object? GetTypeFromSpecification(MetadataReader r, object? c, TypeSpecificationHandle h, byte rawTypeKind) =>
            r.GetTypeSpecification(h).DecodeSignature(this, c);
        public object? GetSZArrayType(object? elementType) => null;
        public object? GetArrayType(object? elementType, ArrayShape shape) => null;
        public object? GetByReferenceType(object? elementType) => null;
        public object? GetPointerType(object? elementType) => null;
        public object? GetGenericInstantiation(object? genericType, ImmutableArray<object?> typeArguments) => null;
        public object? GetGenericTypeParameter(object? c, int index) => null;
        public object? GetGenericMethodParameter(object? c, int index) => null;
        public object? GetFunctionPointerType(MethodSignature<object?> signature) => null;
        public object? GetModifiedType(object? modifier, object? unmodifiedType, bool isRequired) => null;
        public object? GetPinnedType(object? elementType) => null;
    }
}
