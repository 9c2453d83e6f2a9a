using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.Extensions.Options;

namespace WebLlm.Server.Persistence;

public static class PersistenceExtensions
{
    public const string DatabaseFileName = "webllm.db";

    /// <summary>
    /// The database is a file in the data directory. Endpoints use a scoped <see cref="WebLlmDb"/>; background
    /// services create short-lived contexts from the factory.
    /// </summary>
    public static WebApplicationBuilder AddPersistence(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<DatabaseQuota>();
        builder.Services.AddPooledDbContextFactory<WebLlmDb>((sp, o) => Configure(o, sp.GetRequiredService<IOptions<WebLlmOptions>>().Value, sp.GetRequiredService<DatabaseQuota>()));
        builder.Services.AddScoped(sp => sp.GetRequiredService<IDbContextFactory<WebLlmDb>>().CreateDbContext());
        return builder;
    }

    internal static void Configure(DbContextOptionsBuilder o, WebLlmOptions options, DatabaseQuota quota)
    {
        Directory.CreateDirectory(options.DataPath());
        var connection = new SqliteConnectionStringBuilder
        {
            DataSource = options.DataPath(DatabaseFileName),
            DefaultTimeout = 30, // seconds; also the busy timeout while another connection writes
            Pooling = true,
        };
        o.UseSqlite(connection.ToString()).AddInterceptors(new SqlitePragmas(quota));
    }

    /// <summary>Applies pending migrations; runs before any hosted service starts.</summary>
    public static void MigrateDatabase(this WebApplication app)
    {
        using var db = app.Services.GetRequiredService<IDbContextFactory<WebLlmDb>>().CreateDbContext();
        db.Database.Migrate();
    }
}

/// <summary>For <c>dotnet ef migrations add</c>: a context without starting the web host (and its training service).</summary>
public sealed class DesignTimeDbFactory : IDesignTimeDbContextFactory<WebLlmDb>
{
    public WebLlmDb CreateDbContext(string[] args)
    {
        var builder = new DbContextOptionsBuilder<WebLlmDb>();
        builder.UseSqlite("Data Source=design-time.db");
        return new WebLlmDb(builder.Options);
    }
}
