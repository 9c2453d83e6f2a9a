using WebLlm.Training.Checkpoints;
using WebLlm.Training.Loop;

namespace WebLlm.Training.Tests;

public class TrainerTests
{
    [Fact]
    public void Learning_rate_warms_up_linearly_then_decays_by_cosine_to_the_floor()
    {
        var s = new LearningRateSchedule(1e-3, 1e-4, 10, 110);
        Assert.Equal(1e-4, s.At(0), 12);
        Assert.Equal(1e-3, s.At(9), 12);
        Assert.Equal(1e-3, s.At(10), 12);
        Assert.Equal(5.5e-4, s.At(60), 12);
        Assert.Equal(1e-4, s.At(110), 12);
        Assert.Equal(1e-4, s.At(500), 12);
        for (int i = 11; i < 110; i++) Assert.True(s.At(i) < s.At(i - 1));
    }

    [Fact]
    public void Training_lowers_the_loss_and_reports_each_step()
    {
        string dir = TestData.TempDir();
        using var trainer = Trainer.Create(TestData.Micro(vocab: 40), TestData.Options(60) with { EvalEvery = 30 }, TestData.CharData(), dir);
        var steps = new List<StepResult>();
        var evals = new List<EvalResult>();
        trainer.Run(new TrainingCallbacks { OnStep = steps.Add, OnEval = evals.Add });
        Assert.Equal(Enumerable.Range(1, 60).Select(i => (long)i), steps.Select(s => s.Step));
        Assert.True(steps[^5..].Average(s => s.Loss) < steps[..5].Average(s => s.Loss) - 0.5);
        Assert.All(steps, s => Assert.True(s.TokensPerSecond > 0 && s.Mfu > 0 && s.GradNorm > 0 && s.Tokens == 4 * 16));
        Assert.Equal(new long[] { 30, 60 }, evals.Select(e => e.Step));
        Assert.Equal([60L], Directory.GetDirectories(trainer.CheckpointsDirectory).Select(d => Checkpoint.ReadManifest(d).Step));
        Assert.Single(Checkpoint.List(trainer.CheckpointsDirectory)); // the final one
    }

    [Fact]
    public void Run_takes_requests_between_steps_flushes_before_each_checkpoint_and_keeps_the_last_step_when_cancelled()
    {
        string dir = TestData.TempDir();
        using var trainer = Trainer.Create(TestData.Micro(vocab: 40), TestData.Options(50) with { SampleTokens = 4, SamplePrompts = ["a"] },
            TestData.CharData(), dir);
        using var cancel = new CancellationTokenSource();
        var events = new List<string>();
        long lastStep = 0;
        trainer.Run(new TrainingCallbacks
        {
            OnStep = s =>
            {
                lastStep = s.Step;
                if (s.Step == 7) cancel.Cancel(); // pause, stop or Ctrl+C: honoured before step 8
            },
            SampleRequested = () => lastStep == 3,
            CheckpointRequested = () => lastStep is 5 or 6,
            OnSample = s => events.Add($"sample {s.Step}"),
            BeforeCheckpoint = step => events.Add($"flush {step}"),
            OnCheckpoint = c => events.Add($"checkpoint {c.Step}"),
        }, cancel.Token);
        Assert.Equal(7, trainer.Step);
        // Sampled once when asked (the cadence is off), checkpoints where asked, and the last step kept on the way out.
        Assert.Equal(["sample 3", "flush 5", "checkpoint 5", "flush 6", "checkpoint 6", "flush 7", "checkpoint 7"], events);
        Assert.Equal([5L, 6L, 7L], Checkpoint.List(trainer.CheckpointsDirectory).Select(c => c.Step).Order());

        // Resumed at its checkpoint and cancelled before a step: nothing new, so no checkpoint is written again.
        using var resumed = Trainer.Resume(dir, TestData.CharData());
        events.Clear();
        resumed.Run(new TrainingCallbacks { BeforeCheckpoint = step => events.Add($"flush {step}") }, cancel.Token);
        Assert.Equal(7, resumed.Step);
        Assert.Empty(events);
    }

    [Fact]
    public void Gradient_accumulation_multiplies_the_tokens_per_step()
    {
        using var trainer = Trainer.Create(TestData.Micro(vocab: 40), TestData.Options(2) with { GradAccumSteps = 3 }, TestData.CharData(), TestData.TempDir());
        var r = trainer.TrainStep();
        Assert.Equal(3 * 4 * 16, r.Tokens);
    }

    [Fact]
    public void Samples_use_fixed_prompts_and_seed()
    {
        using var trainer = Trainer.Create(TestData.Micro(vocab: 40), TestData.Options(2) with { SamplePrompts = ["First", "All:"], SampleTokens = 12 }, TestData.CharData(), TestData.TempDir());
        var a = trainer.Sample();
        var b = trainer.Sample();
        Assert.Equal(["First", "All:"], a.Select(s => s.Prompt));
        Assert.Equal(a.Select(s => s.Text), b.Select(s => s.Text));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.1)]
    public void Resuming_from_a_checkpoint_gives_bit_identical_losses(double dropout)
    {
        var config = TestData.Micro(vocab: 40, dropout: dropout);
        var options = TestData.Options(20);
        var data = TestData.CharData();

        List<double> straight;
        using (var t = Trainer.Create(config, options, data, TestData.TempDir()))
            straight = Enumerable.Range(0, 20).Select(_ => t.TrainStep().Loss).ToList();

        string dir = TestData.TempDir();
        var resumed = new List<double>();
        using (var t = Trainer.Create(config, options, data, dir))
        {
            for (int i = 0; i < 10; i++) resumed.Add(t.TrainStep().Loss);
            t.SaveCheckpoint();
            t.TrainStep(); // work after the checkpoint is lost, as in a crash
        }
        using (var t = Trainer.Resume(dir, data))
        {
            Assert.Equal(10, t.Step);
            while (!t.Finished) resumed.Add(t.TrainStep().Loss);
        }
        Assert.Equal(straight, resumed); // exact, not approximately
    }

    [Fact]
    public void Checkpoint_round_trip_restores_identical_logits_and_hugging_face_layout()
    {
        string dir = TestData.TempDir();
        using var trainer = Trainer.Create(TestData.Micro(vocab: 40), TestData.Options(3), TestData.CharData(), dir);
        trainer.TrainStep();
        var info = trainer.SaveCheckpoint();
        Assert.Equal(1, info.Step);
        Assert.EndsWith("step_00000001", info.Directory);
        Assert.False(Directory.Exists(info.Directory + ".tmp"));

        var (tensors, _) = SafeTensors.Read(Path.Combine(info.Directory, Checkpoint.ModelFile));
        Assert.Equal(new long[] { 32, 96 }, tensors["transformer.h.0.attn.c_attn.weight"].shape); // Conv1D: [in, out]
        Assert.Equal(new long[] { 128, 32 }, tensors["transformer.h.1.mlp.c_proj.weight"].shape);
        Assert.Equal(new long[] { 40, 32 }, tensors["transformer.wte.weight"].shape);
        Assert.DoesNotContain("lm_head.weight", tensors.Keys);
        foreach (var t in tensors.Values) t.Dispose();
        Assert.True(File.Exists(Path.Combine(info.Directory, "config.json")));

        var (loaded, manifest) = Checkpoint.LoadModel(info.Directory);
        using var _ = loaded;
        Assert.Equal(trainer.ModelConfig, manifest.Model);
        trainer.Model.eval();
        loaded.eval();
        using var x = TestData.Tokens(1, 5, 9, 2, 7);
        Assert.True(trainer.Model.forward(x).equal(loaded.forward(x)).all().item<bool>());
    }

    [Fact]
    public void A_half_written_checkpoint_is_never_listed_and_is_cleaned_up()
    {
        string dir = TestData.TempDir();
        using var trainer = Trainer.Create(TestData.Micro(vocab: 40), TestData.Options(3), TestData.CharData(), dir);
        trainer.TrainStep();
        trainer.SaveCheckpoint();
        string partial = Path.Combine(trainer.CheckpointsDirectory, Checkpoint.FolderName(2) + ".tmp");
        Directory.CreateDirectory(partial);
        File.WriteAllText(Path.Combine(partial, Checkpoint.ModelFile), "truncated");
        Assert.Equal([1L], Checkpoint.List(trainer.CheckpointsDirectory).Select(c => c.Step));
        Assert.Equal(1, Checkpoint.CleanTemporary(trainer.CheckpointsDirectory));
        Assert.False(Directory.Exists(partial));
    }

    [Fact]
    public void Truncated_safetensors_are_rejected_with_a_clear_error()
    {
        string dir = TestData.TempDir();
        using var trainer = Trainer.Create(TestData.Micro(vocab: 40), TestData.Options(3), TestData.CharData(), dir);
        var info = trainer.SaveCheckpoint();
        string file = Path.Combine(info.Directory, Checkpoint.ModelFile);
        var bytes = File.ReadAllBytes(file);
        File.WriteAllBytes(file, bytes[..(bytes.Length - 100)]);
        File.Delete(Path.Combine(info.Directory, Checkpoint.ChecksumFile)); // the reader's own check (CheckpointDurabilityTests covers checksums)
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadModel(info.Directory));
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Invalid_options_are_rejected_before_anything_is_written()
    {
        string dir = TestData.TempDir();
        var e = Assert.Throws<ArgumentException>(() => Trainer.Create(TestData.Micro(vocab: 40), TestData.Options() with { BatchSize = 0, LearningRate = -1 }, TestData.CharData(), dir));
        Assert.Contains("batch size", e.Message);
        Assert.Contains("learning rate", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir));
    }

    [Fact]
    public void Live_native_tensors_do_not_grow_across_many_steps()
    {
        using var trainer = Trainer.Create(TestData.Micro(vocab: 40), TestData.Options(200) with { EvalEvery = 50, EvalBatches = 1 }, TestData.CharData(), TestData.TempDir());
        for (int i = 0; i < 20; i++) trainer.TrainStep();
        GC.Collect(); GC.WaitForPendingFinalizers();
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 100; i++)
        {
            trainer.TrainStep();
            if (trainer.EvalDue) trainer.Evaluate();
        }
        GC.Collect(); GC.WaitForPendingFinalizers();
        long after = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.True(after - before <= 5, $"live tensors grew from {before} to {after} over 100 steps");
    }
}
