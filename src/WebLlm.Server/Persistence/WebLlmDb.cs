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
        b.Entity<StepMetricEntity>(e =>
        {
            e.ToTable("StepMetrics");
            e.HasIndex(m => new { m.RunId, m.Step }).IsUnique();
            e.HasOne<RunEntity>().WithMany().HasForeignKey(m => m.RunId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<EvalEntity>(e =>
        {
            e.ToTable("Evals");
            e.HasIndex(m => new { m.RunId, m.Step }).IsUnique();
            e.HasOne<RunEntity>().WithMany().HasForeignKey(m => m.RunId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<SampleEntity>(e =>
        {
            e.ToTable("Samples");
            e.HasIndex(m => new { m.RunId, m.Step });
            e.HasOne<RunEntity>().WithMany().HasForeignKey(m => m.RunId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<CheckpointEntity>(e =>
        {
            e.ToTable("Checkpoints");
            e.HasIndex(m => new { m.RunId, m.Step }).IsUnique();
            e.HasOne<RunEntity>().WithMany().HasForeignKey(m => m.RunId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<RunTransitionEntity>(e =>
        {
            e.ToTable("RunTransitions");
            e.HasIndex(m => m.RunId);
            e.HasOne<RunEntity>().WithMany().HasForeignKey(m => m.RunId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<SystemMetricEntity>(e =>
        {
            e.ToTable("SystemMetrics");
            e.HasIndex(m => new { m.RunId, m.Utc });
            e.HasOne<RunEntity>().WithMany().HasForeignKey(m => m.RunId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<DatasetEntity>(e => e.ToTable("Datasets"));
    }
}
