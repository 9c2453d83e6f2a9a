namespace WebLlm.Server;

/// <summary>Recognises "no space left on device" (ENOSPC on Unix, ERROR_DISK_FULL / ERROR_HANDLE_DISK_FULL on Windows).</summary>
public static class DiskFull
{
    private const int Enospc = 28;
    private const int ShmSize = 10 | (19 << 8); // SQLITE_IOERR_SHMSIZE

    public static bool Is(Exception ex) => ex switch
    {
        // SQLITE_FULL, or SQLITE_IOERR_SHMSIZE: a WAL that grew past a shared-memory region needs the -shm file to grow,
        // and on a full disk that fails with an I/O error instead (seen once as a 500 on a read in the tmpfs test).
        Microsoft.Data.Sqlite.SqliteException sqlite => sqlite.SqliteErrorCode == 13 || sqlite.SqliteExtendedErrorCode == ShmSize,
        IOException io => (OperatingSystem.IsWindows() ? (io.HResult & 0xFFFF) is 0x70 or 0x27 : io.HResult == Enospc)
            || io.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase),
        _ => ex.InnerException is { } inner && Is(inner),
    };

    /// <summary>What a full disk throws (for fault injection), worded as .NET words it, with the file's path.</summary>
    public static IOException Exception(string path) => new($"No space left on device : '{path}'", Enospc);
}
