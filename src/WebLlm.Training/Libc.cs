using System.Runtime.InteropServices;

namespace WebLlm.Training;

/// <summary>
/// The C environment, which native libraries (libgomp, glibc's malloc) read. .NET's
/// Environment.SetEnvironmentVariable keeps its own copy on Unix and does not reach them.
/// </summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int setenv(string name, string value, int overwrite);

    [LibraryImport("libc", EntryPoint = "unsetenv", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int unsetenv(string name);
}
