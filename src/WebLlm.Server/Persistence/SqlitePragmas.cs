using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace WebLlm.Server.Persistence;

/// <summary>
/// Every connection gets WAL (readers never block the one writer), NORMAL sync (safe with WAL, far fewer
/// fsyncs) and foreign keys. The busy timeout comes from the connection string's Default Timeout, which
/// Microsoft.Data.Sqlite turns into sqlite3_busy_timeout.
/// </summary>
public sealed class SqlitePragmas(DatabaseQuota quota) : DbConnectionInterceptor
{
    private const string Pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Pragmas + quota.Pragma;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = Pragmas + quota.Pragma;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>
/// Test hook: caps the database at a number of pages (SQLite's per-connection <c>max_page_count</c>, applied as each
/// connection opens), so writes that need a new page fail with SQLITE_FULL, the error a full disk gives, while the
/// rest of the machine keeps its space. Never capped unless a test calls <see cref="Cap"/>.
/// </summary>
public sealed class DatabaseQuota
{
    /// <summary>SQLite's own default and largest page limit.</summary>
    private const long Unlimited = 4294967294;

    private long maxPages; // 0: never capped (no PRAGMA at all)

    public void Cap(long pages) => Volatile.Write(ref maxPages, pages);

    public void Lift() => Volatile.Write(ref maxPages, Unlimited);

    internal string Pragma => Volatile.Read(ref maxPages) is > 0 and var n ? $" PRAGMA max_page_count={n};" : "";
}
