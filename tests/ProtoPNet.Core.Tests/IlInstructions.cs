using System.Reflection;
using System.Reflection.Emit;

namespace ProtoPNet.Tests;

/// <summary>Walks a method body's IL: each instruction's opcode, operand type and (for 4-byte operands) operand value.</summary>
internal static class IlInstructions
{
    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    public static IEnumerable<(short OpCode, OperandType OperandType, int Operand)> Read(byte[] il)
    {
        var result = new List<(short, OperandType, int)>();
        int i = 0;
        while (i < il.Length)
        {
            bool twoByte = il[i] == 0xFE;
            short value = twoByte ? (short)(0xFE00 | il[i + 1]) : il[i];
            i += twoByte ? 2 : 1;
            var op = OpCodesByValue[value];
            int size = op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
            result.Add((value, op.OperandType, size == 4 ? BitConverter.ToInt32(il, i) : 0));
            i += size;
        }
        return result;
    }
}
