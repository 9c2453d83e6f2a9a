using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace WebLlm.Server.Persistence;

/// <summary>
/// Every connection gets WAL (readers never block the one writer), NORMAL sync (safe with WAL, far fewer
/// fsyncs) and foreign keys. The busy timeout comes from the connection string's Default Timeout, which
/// Microsoft.Data.Sqlite turns into sqlite3_busy_timeout.
/// </summary>
public sealed class SqlitePragmas : DbConnectionInterceptor
{
    private const string Pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
