using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace ProtoPNet.Tests;

/// <summary>
/// Reads method bodies' IL (System.Reflection.Metadata, no loading) to find calls that make a TorchSharp
/// <c>Scalar</c> nobody holds during the native call that reads it (docs/performance.md, "Scalars").
/// <para>In a library assembly (TorchSharp, TorchVision) a method is hazardous when its body makes a Scalar (calls
/// <c>Scalar.op_Implicit</c>, a <c>ToScalar</c>-like method, or any method that returns a new <c>Scalar</c>) and never
/// calls <c>Scalar.Dispose()</c>, or when it calls a hazardous method of that assembly. The set is computed from the
/// referenced assembly itself, so a TorchSharp upgrade is checked against its own code.</para>
/// </summary>
internal sealed class ScalarCallScanner
{
    public const string ScalarType = "TorchSharp.Scalar";

    /// <summary>Hazardous library methods: key "Namespace.Type+Nested::Name(ParamType,...)" → why.</summary>
    public Dictionary<string, string> Hazards { get; } = new(StringComparer.Ordinal);

    /// <summary>Library methods that return a fresh Scalar (op_Implicit, ToScalar, ...): the caller must hold it.</summary>
    public HashSet<string> Makers { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Library types with a hazardous override of a virtual method → that override. A call through the base method
    /// (<c>optimizer.step()</c> on an <c>Adam</c>) names the base in IL, so the call site alone does not show the hazard;
    /// making an object of such a type does.
    /// </summary>
    public Dictionary<string, string> HazardousTypes { get; } = new(StringComparer.Ordinal);

    private readonly List<(string Type, string Key)> virtuals = new();

    /// <summary>Adds a library assembly's hazardous methods to <see cref="Hazards"/>.</summary>
    public void AddLibrary(string path)
    {
        using var pe = new PEReader(File.OpenRead(path));
        var md = pe.GetMetadataReader();
        var calls = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var th in md.TypeDefinitions)
        {
            foreach (var mh in md.GetTypeDefinition(th).GetMethods())
            {
                var m = md.GetMethodDefinition(mh);
                var key = Key(md, mh, out var returnType);
                if (returnType == ScalarType && !IsPropertyGetter(md, m)) Makers.Add(key);
                if ((m.Attributes & MethodAttributes.Virtual) != 0 && m.RelativeVirtualAddress != 0) virtuals.Add((TypeName(md, th), key));
                if (m.RelativeVirtualAddress != 0)
                    calls[key] = CallTargets(pe.GetMethodBody(m.RelativeVirtualAddress).GetILBytes()!).Select(t => Key(md, t.Handle, out _)).ToList();
            }
        }
        foreach (var k in Makers) Hazards.TryAdd(k, "returns a new Scalar");
        // Direct: makes a Scalar and never disposes one, or calls a hazard of an assembly added before.
        var direct = new List<string>();
        foreach (var (key, targets) in calls)
        {
            if (key.StartsWith(ScalarType + "::", StringComparison.Ordinal) || Hazards.ContainsKey(key)) continue;
            var maker = targets.FirstOrDefault(Makers.Contains);
            var hazard = targets.FirstOrDefault(Hazards.ContainsKey);
            if (maker != null && !targets.Contains(ScalarType + "::Dispose()"))
                Hazards[key] = "makes a Scalar it does not hold: " + maker;
            else if (hazard != null)
                Hazards[key] = "calls " + hazard;
            else
                continue;
            direct.Add(key);
        }
        // Transitive, within the assembly.
        var callers = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (key, targets) in calls)
            foreach (var t in targets)
            {
                if (!callers.TryGetValue(t, out var list)) callers[t] = list = new List<string>();
                list.Add(key);
            }
        var queue = new Queue<string>(direct);
        while (queue.Count > 0)
        {
            var h = queue.Dequeue();
            if (!callers.TryGetValue(h, out var cs)) continue;
            foreach (var c in cs)
                if (Hazards.TryAdd(c, "calls " + h)) queue.Enqueue(c);
        }
        foreach (var (type, key) in virtuals)
            if (Hazards.ContainsKey(key)) HazardousTypes.TryAdd(type, key);
        virtuals.Clear();
    }

    /// <summary>
    /// Every call site in <paramref name="path"/> whose target is a Scalar maker or a hazardous library method,
    /// as "Type.Method → target", outside the types named in <paramref name="allowedTypes"/>.
    /// </summary>
    public List<string> FindCallSites(string path, IReadOnlySet<string> allowedTypes)
    {
        using var pe = new PEReader(File.OpenRead(path));
        var md = pe.GetMetadataReader();
        var found = new List<string>();
        foreach (var th in md.TypeDefinitions)
        {
            var typeName = TypeName(md, th);
            if (allowedTypes.Contains(OuterMost(typeName))) continue;
            foreach (var mh in md.GetTypeDefinition(th).GetMethods())
            {
                var m = md.GetMethodDefinition(mh);
                if (m.RelativeVirtualAddress == 0) continue;
                foreach (var (t, opCode) in CallTargets(pe.GetMethodBody(m.RelativeVirtualAddress).GetILBytes()!))
                {
                    var key = Key(md, t, out var returnType);
                    if (Makers.Contains(key) || Hazards.ContainsKey(key))
                        found.Add($"{typeName}.{md.GetString(m.Name)} → {key}");
                    // A new object (or a factory's) of a library type whose override is a hazard: its virtual calls are.
                    // A derived type's call of its base constructor is not: the derived type decides what it overrides.
                    bool constructor = key.Contains("::.ctor(", StringComparison.Ordinal);
                    if (constructor && opCode != OpCodes.Newobj.Value) continue;
                    string made = constructor ? key[..key.IndexOf("::", StringComparison.Ordinal)] : returnType;
                    if (HazardousTypes.TryGetValue(made, out var hazard))
                        found.Add($"{typeName}.{md.GetString(m.Name)} → makes a {made}, whose {hazard} is a hazard");
                }
            }
        }
        return found;
    }

    private static string OuterMost(string typeName)
    {
        int plus = typeName.IndexOf('+');
        return plus < 0 ? typeName : typeName[..plus];
    }

    // A Scalar-typed property returns a Scalar its object holds, not a new one.
    private static bool IsPropertyGetter(MetadataReader md, MethodDefinition m) =>
        (m.Attributes & MethodAttributes.SpecialName) != 0 && md.GetString(m.Name).StartsWith("get_", StringComparison.Ordinal);

    /// <summary>Targets of call, callvirt, newobj, ldftn and ldvirtftn (a method group passed as a delegate), with the opcode.</summary>
    private static IEnumerable<(EntityHandle Handle, short OpCode)> CallTargets(byte[] il) =>
        IlInstructions.Read(il).Where(x => x.OperandType == OperandType.InlineMethod)
            .Select(x => (MetadataTokens.EntityHandle(x.Operand), x.OpCode));

    private static string Key(MetadataReader md, EntityHandle h, out string returnType)
    {
        var names = new TypeNames();
        switch (h.Kind)
        {
            case HandleKind.MethodDefinition:
            {
                var m = md.GetMethodDefinition((MethodDefinitionHandle)h);
                var sig = m.DecodeSignature(names, null);
                returnType = sig.ReturnType;
                return TypeName(md, m.GetDeclaringType()) + "::" + md.GetString(m.Name) + "(" + string.Join(",", sig.ParameterTypes) + ")";
            }
            case HandleKind.MemberReference:
            {
                var m = md.GetMemberReference((MemberReferenceHandle)h);
                if (m.GetKind() != MemberReferenceKind.Method) { returnType = ""; return ""; }
                var sig = m.DecodeMethodSignature(names, null);
                returnType = sig.ReturnType;
                return ParentName(md, m.Parent) + "::" + md.GetString(m.Name) + "(" + string.Join(",", sig.ParameterTypes) + ")";
            }
            case HandleKind.MethodSpecification:
                return Key(md, md.GetMethodSpecification((MethodSpecificationHandle)h).Method, out returnType);
        }
        returnType = "";
        return "";
    }

    private static string ParentName(MetadataReader md, EntityHandle parent) => parent.Kind switch
    {
        HandleKind.TypeDefinition => TypeName(md, (TypeDefinitionHandle)parent),
        HandleKind.TypeReference => TypeName(md, (TypeReferenceHandle)parent),
        // A member of a generic type instance (List<T>.Add): named by the generic type, as its definition is.
        HandleKind.TypeSpecification => md.GetTypeSpecification((TypeSpecificationHandle)parent).DecodeSignature(new TypeNames(), null).Split('<')[0],
        _ => parent.Kind.ToString(),
    };

    private static string TypeName(MetadataReader md, TypeDefinitionHandle h)
    {
        var td = md.GetTypeDefinition(h);
        var declaring = td.GetDeclaringType();
        if (!declaring.IsNil) return TypeName(md, declaring) + "+" + md.GetString(td.Name);
        var ns = md.GetString(td.Namespace);
        return ns.Length > 0 ? ns + "." + md.GetString(td.Name) : md.GetString(td.Name);
    }

    private static string TypeName(MetadataReader md, TypeReferenceHandle h)
    {
        var tr = md.GetTypeReference(h);
        if (tr.ResolutionScope.Kind == HandleKind.TypeReference)
            return TypeName(md, (TypeReferenceHandle)tr.ResolutionScope) + "+" + md.GetString(tr.Name);
        var ns = md.GetString(tr.Namespace);
        return ns.Length > 0 ? ns + "." + md.GetString(tr.Name) : md.GetString(tr.Name);
    }

    /// <summary>Type names in signatures, the same whether read from a definition or from a reference.</summary>
    private sealed class TypeNames : ISignatureTypeProvider<string, object?>
    {
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();
        public string GetTypeFromDefinition(MetadataReader r, TypeDefinitionHandle h, byte rawTypeKind) => TypeName(r, h);
        public string GetTypeFromReference(MetadataReader r, TypeReferenceHandle h, byte rawTypeKind) => TypeName(r, h);
        public string GetTypeFromSpecification(MetadataReader r, object? c, TypeSpecificationHandle h, byte rawTypeKind) =>
            r.GetTypeSpecification(h).DecodeSignature(this, c);
        public string GetSZArrayType(string elementType) => elementType + "[]";
        public string GetArrayType(string elementType, ArrayShape shape) => elementType + "[" + new string(',', shape.Rank - 1) + "]";
        public string GetByReferenceType(string elementType) => elementType + "&";
        public string GetPointerType(string elementType) => elementType + "*";
        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) =>
            genericType + "<" + string.Join(",", typeArguments) + ">";
        public string GetGenericTypeParameter(object? c, int index) => "!" + index;
        public string GetGenericMethodParameter(object? c, int index) => "!!" + index;
        public string GetFunctionPointerType(MethodSignature<string> signature) => "fnptr";
        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;
        public string GetPinnedType(string elementType) => elementType;
    }
}
