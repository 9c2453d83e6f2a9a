#nullable enable
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

/// <summary>
/// Sets VER_FLG_WEAK on the Elf64_Vernaux entry that names <see cref="Version"/> in each file, but only
/// when the host's libstdc++ does not define that version (otherwise the library loads as it is).
/// The file is rewritten through a temporary file and a rename, so a hard link into the NuGet cache is
/// replaced rather than modified.
/// </summary>
public class WeakenMissingGlibcxxVersion : Task
{
    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();
    [Required] public string Version { get; set; } = "";

    private static readonly string[] LibStdCxxPaths =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
    };

    public override bool Execute()
    {
        string? host = Array.Find(LibStdCxxPaths, File.Exists);
        if (host != null && Contains(File.ReadAllBytes(host), Encoding.ASCII.GetBytes(Version + "\0")))
        {
            Log.LogMessage(MessageImportance.Low, $"{host} defines {Version}; libLibTorchSharp.so left as is.");
            return true;
        }
        foreach (var item in Files)
        {
            string path = item.ItemSpec;
            byte[] elf = File.ReadAllBytes(path);
            int patched = Patch(elf, Version, out string? error);
            if (error != null) { Log.LogWarning($"{path}: {error}"); continue; }
            if (patched == 0) { Log.LogMessage(MessageImportance.Low, $"{path}: nothing to patch."); continue; }
            string tmp = path + ".patching";
            File.WriteAllBytes(tmp, elf);
            File.Delete(path);
            File.Move(tmp, path);
            Log.LogMessage(MessageImportance.Normal, $"{path}: {Version} requirement marked weak (host libstdc++ lacks it).");
        }
        return !Log.HasLoggedErrors;
    }

    private static bool Contains(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }

    /// <summary>Returns how many entries were changed now (0 when already weak or absent).</summary>
    public static int Patch(byte[] elf, string version, out string? error)
    {
        error = null;
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
        { error = "not an ELF file"; return 0; }
        if (elf[4] != 2 || elf[5] != 1) { error = "not a little-endian ELF64 file"; return 0; }
        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        int changed = 0;
        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)shoff + i * shentsize);
            uint type = BitConverter.ToUInt32(elf, sh + 4);
            if (type != 0x6ffffffe) continue; // SHT_GNU_verneed
            long offset = (long)BitConverter.ToUInt64(elf, sh + 0x18);
            int link = (int)BitConverter.ToUInt32(elf, sh + 0x28);
            long strtab = (long)BitConverter.ToUInt64(elf, checked((int)shoff + link * shentsize) + 0x18);
            long need = offset;
            while (true)
            {
                int cnt = BitConverter.ToUInt16(elf, (int)need + 2);
                long aux = need + BitConverter.ToUInt32(elf, (int)need + 8);
                for (int a = 0; a < cnt; a++)
                {
                    int flagsAt = (int)aux + 4;
                    long nameAt = strtab + BitConverter.ToUInt32(elf, (int)aux + 8);
                    int end = Array.IndexOf(elf, (byte)0, (int)nameAt);
                    string name = Encoding.ASCII.GetString(elf, (int)nameAt, end - (int)nameAt);
                    if (name == version)
                    {
                        ushort flags = BitConverter.ToUInt16(elf, flagsAt);
                        if ((flags & 0x2) == 0)
                        {
                            BitConverter.GetBytes((ushort)(flags | 0x2)).CopyTo(elf, flagsAt);
                            changed++;
                        }
                    }
                    uint nextAux = BitConverter.ToUInt32(elf, (int)aux + 12);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
                uint next = BitConverter.ToUInt32(elf, (int)need + 12);
                if (next == 0) break;
                need += next;
            }
        }
        return changed;
    }
}
