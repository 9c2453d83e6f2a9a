using WebLlm.Training.Checkpoints;
using WebLlm.Training.Loop;

namespace WebLlm.Training.Tests;

/// <summary>Retention, checksums with fallback to an older intact checkpoint, failed writes, non-finite steps.</summary>
public class CheckpointDurabilityTests
{
    private static Trainer NewTrainer(string dir, TrainOptions options) =>
        Trainer.Create(TestData.Micro(vocab: 40), options, TestData.CharData(), dir);

    [Fact]
    public void Retention_keeps_the_newest_K_and_reports_what_it_pruned()
    {
        string dir = TestData.TempDir();
        using var trainer = NewTrainer(dir, TestData.Options(5) with { KeepCheckpoints = 2 });
        var pruned = new List<long>();
        for (int i = 0; i < 5; i++)
        {
            trainer.TrainStep();
            pruned.AddRange(trainer.SaveCheckpoint().Pruned);
        }
        Assert.Equal([4L, 5L], Checkpoint.List(trainer.CheckpointsDirectory).Select(c => c.Step));
        Assert.Equal([1L, 2L, 3L], pruned);
        Assert.Throws<ArgumentException>(() => NewTrainer(TestData.TempDir(), TestData.Options(5) with { KeepCheckpoints = 1 }));
    }

    [Fact]
    public void A_checkpoint_lists_its_files_sha256_and_verifies()
    {
        using var trainer = NewTrainer(TestData.TempDir(), TestData.Options(1));
        trainer.TrainStep();
        var info = trainer.SaveCheckpoint();
        Assert.Null(Checkpoint.Verify(info.Directory));
        var lines = File.ReadAllLines(Path.Combine(info.Directory, Checkpoint.ChecksumFile));
        Assert.Equal([Checkpoint.ModelFile, Checkpoint.HfConfigFile, Checkpoint.OptimizerFile, Checkpoint.ManifestFile], lines.Select(l => l[66..]));
        Assert.Equal(info.ModelSha256, lines[0][..64]);
    }

    [Theory]
    [InlineData("truncate")]
    [InlineData("flip")]
    [InlineData("delete")]
    public void Resume_sets_a_damaged_newest_checkpoint_aside_and_continues_from_the_previous_intact_one(string damage)
    {
        string dir = TestData.TempDir();
        string newest;
        using (var trainer = NewTrainer(dir, TestData.Options(4)))
        {
            trainer.TrainStep(); trainer.TrainStep();
            trainer.SaveCheckpoint();
            trainer.TrainStep();
            newest = trainer.SaveCheckpoint().Directory;
        }
        string file = Path.Combine(newest, Checkpoint.OptimizerFile);
        switch (damage)
        {
            case "truncate":
                using (var f = File.Open(file, FileMode.Open)) f.SetLength(f.Length / 2);
                break;
            case "flip":
                var bytes = File.ReadAllBytes(file);
                bytes[^1] ^= 0xFF;
                File.WriteAllBytes(file, bytes);
                break;
            default:
                File.Delete(file);
                break;
        }

        using var resumed = Trainer.Resume(dir, TestData.CharData());
        Assert.Equal(2, resumed.Step);
        var corrupt = Assert.Single(resumed.CorruptCheckpoints);
        Assert.Equal(3, corrupt.Step);
        if (damage != "delete") Assert.Contains("SHA-256", corrupt.Reason);
        Assert.Equal([2L], Checkpoint.List(resumed.CheckpointsDirectory).Select(c => c.Step));
        Assert.True(Directory.Exists(newest + ".corrupt"));
    }

    [Fact]
    public void Loading_a_model_with_damaged_weights_throws_instead_of_serving_garbage()
    {
        using var trainer = NewTrainer(TestData.TempDir(), TestData.Options(1));
        trainer.TrainStep();
        var info = trainer.SaveCheckpoint();
        string weights = Path.Combine(info.Directory, Checkpoint.ModelFile);
        using (var f = File.Open(weights, FileMode.Open)) f.SetLength(f.Length - 1);
        Assert.Throws<CorruptCheckpointException>(() => Checkpoint.LoadModel(info.Directory));
    }

    [Fact]
    public void A_write_that_fails_with_disk_full_leaves_no_temp_folder_and_older_checkpoints_intact()
    {
        using var trainer = NewTrainer(TestData.TempDir(), TestData.Options(3) with { KeepCheckpoints = 2 });
        trainer.TrainStep();
        var first = trainer.SaveCheckpoint();
        trainer.TrainStep();
        trainer.Faults = new TrainingFaults { Checkpoint = new CheckpointFaults { FailWrite = _ => new IOException("No space left on device", 28) } };
        var e = Assert.Throws<IOException>(() => trainer.SaveCheckpoint());
        Assert.Equal(28, e.HResult);
        Assert.Equal([1L], Checkpoint.List(trainer.CheckpointsDirectory).Select(c => c.Step));
        Assert.Null(Checkpoint.Verify(first.Directory));
        Assert.Single(Directory.GetDirectories(trainer.CheckpointsDirectory));
    }

    [Fact]
    public void Poisoned_steps_are_skipped_without_touching_the_weights_and_too_many_in_a_row_diverge()
    {
        using var trainer = NewTrainer(TestData.TempDir(), TestData.Options(20) with { MaxBadSteps = 3 });
        trainer.Faults = new TrainingFaults { PoisonLoss = s => s >= 2 };
        trainer.TrainStep();
        var before = trainer.Model.parameters().Select(p => p.detach().clone()).ToList();
        var bad = trainer.TrainStep();
        Assert.True(bad.Skipped && double.IsNaN(bad.Loss));
        Assert.All(trainer.Model.parameters().Zip(before), pair => Assert.True(pair.First.allclose(pair.Second, 0, 0)));
        trainer.TrainStep();
        Assert.Equal(2, trainer.SkippedSteps);
        var diverged = Assert.Throws<TrainingDivergedException>(() => trainer.TrainStep());
        Assert.Equal(4, diverged.Step);
        // The last good state still checkpoints (no NaN in the manifest).
        Assert.Null(Checkpoint.Verify(trainer.SaveCheckpoint().Directory));
    }
}
