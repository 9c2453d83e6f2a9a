using Microsoft.EntityFrameworkCore;

namespace WebLlm.Server.Persistence;

public sealed class WebLlmDb(DbContextOptions<WebLlmDb> options) : DbContext(options)
{
    public DbSet<RunEntity> Runs => Set<RunEntity>();
    public DbSet<StepMetricEntity> StepMetrics => Set<StepMetricEntity>();
    public DbSet<EvalEntity> Evals => Set<EvalEntity>();
    public DbSet<SampleEntity> Samples => Set<SampleEntity>();
    public DbSet<CheckpointEntity> Checkpoints => Set<CheckpointEntity>();
    public DbSet<DatasetEntity> Datasets => Set<DatasetEntity>();
    public DbSet<RunTransitionEntity> RunTransitions => Set<RunTransitionEntity>();
    public DbSet<SystemMetricEntity> SystemMetrics => Set<SystemMetricEntity>();

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // Statuses as their names: the database stays readable and survives reordering the enums.
        configurationBuilder.Properties<Contracts.RunStatus>().HaveConversion<string>().HaveMaxLength(16);
        configurationBuilder.Properties<Contracts.DatasetStatus>().HaveConversion<string>().HaveMaxLength(16);
        // Everything stored is UTC; SQLite hands DateTime back as Unspecified, which would serialize without a Z.
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcConverter>();
    }

    private sealed class UtcConverter() : Microsoft.EntityFrameworkCore.Storage.ValueConversion.ValueConverter<DateTime, DateTime>(
        v => v.ToUniversalTime(), v => DateTime.SpecifyKind(v, DateTimeKind.Utc))
    {
    }

    protected override void OnModelCreating(ModelBuilder b)
    {
        b.Entity<RunEntity>(e =>
        {
            e.ToTable("Runs");
            e.HasIndex(r => r.DatasetId);
            e.HasIndex(r => r.Status);
        });
        // Per-step rows are unique by (run, step): a resumed run never stores a step twice.
        PerRun<StepMetricEntity>(b, "StepMetrics", unique: true, "RunId", "Step");
        PerRun<EvalEntity>(b, "Evals", unique: true, "RunId", "Step");
        PerRun<SampleEntity>(b, "Samples", unique: false, "RunId", "Step");
        PerRun<CheckpointEntity>(b, "Checkpoints", unique: true, "RunId", "Step");
        PerRun<RunTransitionEntity>(b, "RunTransitions", unique: false, "RunId");
        PerRun<SystemMetricEntity>(b, "SystemMetrics", unique: false, "RunId", "Utc");
        b.Entity<DatasetEntity>(e => e.ToTable("Datasets"));
    }

    /// <summary>A table of rows belonging to one run: deleting the run deletes them (ON DELETE CASCADE).</summary>
    private static void PerRun<T>(ModelBuilder b, string table, bool unique, params string[] index) where T : class =>
        b.Entity<T>(e =>
        {
            e.ToTable(table);
            e.HasIndex(index).IsUnique(unique);
            e.HasOne<RunEntity>().WithMany().HasForeignKey("RunId").OnDelete(DeleteBehavior.Cascade);
        });
}
